"""A job that says which deployment's worker ran it, and an enqueuer for a second deployment.

`python -m tests.push.rq_probe URL PREFIX ORIGIN N` enqueues N probe jobs the way the product does
(`RQJobQueue` with the deployment's prefix), in a process of its own: RQ's key prefix is one per process.
"""

from __future__ import annotations

import sys

from bot.push.queue import QUEUES, JobSpec, RQJobQueue


def record(origin: str, log_key: str) -> None:
    """Run by a worker: append `<origin>><the worker's prefix>` to `log_key` (a plain Redis list)."""
    import redis

    from bot.push import context

    cfg = context().rt.config.redis
    client = redis.Redis.from_url(cfg.url or "")
    client.rpush(log_key, f"{origin}>{cfg.prefix}")
    client.expire(log_key, 600)
    client.close()


def probe_specs(origin: str, log_key: str, n: int) -> list[JobSpec]:
    """N jobs spread over every queue a worker takes (replies and notices)."""
    return [JobSpec("tests.push.rq_probe.record", (origin, log_key), job_id=f"probe-{origin}-{i}",
                    queue=QUEUES[i % len(QUEUES)]) for i in range(n)]


def main(argv: list[str]) -> int:
    url, prefix, origin, n = argv[0], argv[1], argv[2], int(argv[3])
    RQJobQueue(url, prefix=prefix).enqueue(probe_specs(origin, prefix + "probe-log", n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
