"""`python -m bot worker` (RQ workers on "replies" then "notices", with the ticker), `reminders run`, `push sweep`."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from data.timeutil import utcnow

from .jobs import sweep
from .queue import QUEUES, LocalJobQueue, RQJobQueue
from .scheduled import tick
from .service import PushService, get_push

log = logging.getLogger("yinling.push")

HEARTBEAT_KEY = "worker:heartbeat:"  # + host:pid, under the deployment's prefix; `doctor` looks for one
HEARTBEAT_EVERY = 15.0
HEARTBEAT_TTL = 60


def heartbeat_key() -> str:
    return f"{HEARTBEAT_KEY}{socket.gethostname()}:{os.getpid()}"


def _heartbeat(store: Any, stop: threading.Event, every: float = HEARTBEAT_EVERY) -> None:
    """Say "this worker is alive" in Redis until stopped; the key expires a minute after the worker dies."""
    key = heartbeat_key()
    while True:
        try:
            store.set(key, utcnow().isoformat(timespec="seconds"), HEARTBEAT_TTL)
        except Exception:  # noqa: BLE001 - Redis hiccup: the next beat tries again
            log.warning("worker heartbeat not written")
        if stop.wait(every):
            break
    try:
        store.delete(key)
    except Exception:  # noqa: BLE001
        pass


def _say(message: str, err: bool = False) -> None:
    """Command-line output for people (the CLI's whole job), not logging."""
    print(message, file=sys.stderr if err else sys.stdout)  # noqa: T201


def _ticker(push: PushService, stop: threading.Event, every_sweep: float, every_tick: float,
            duties: bool = True) -> None:
    """Sweep and (unless `duties` is off) the scheduled duties, under a store lock so one host does each round."""
    last_tick = 0.0
    store = push.rt.store
    while not stop.wait(every_sweep):
        try:
            if store.set_nx("push:sweep-lock", str(os.getpid()), max(1, int(every_sweep))):
                sweep(utcnow())
            if duties and time.monotonic() - last_tick >= every_tick and store.set_nx(
                    "push:tick-lock", str(os.getpid()), max(1, int(every_tick) - 1)):
                last_tick = time.monotonic()
                tick(push, utcnow())
        except Exception:  # noqa: BLE001 - the worker keeps working; the next round tries again
            log.exception("push ticker round failed")


def cmd_worker(args: argparse.Namespace, rt: Any) -> int:
    """RQ workers on "replies" then "notices"; run it on as many hosts as you like."""
    if not rt.config.redis.url:
        _say("需要 Redis：请设置 YINLING_REDIS_URL。没有 Redis 时通知在网页进程里直接发送。", err=True)
        return 2
    children: list[subprocess.Popen[bytes]] = []
    for _ in range(max(0, args.processes - 1)):
        cmd = [sys.executable, "-m", "bot", "worker", "--processes", "1"]
        if args.burst:
            cmd.append("--burst")
        if args.no_tick:
            cmd.append("--no-tick")
        if args.no_duties:
            cmd.append("--no-duties")
        children.append(subprocess.Popen(cmd))
    try:
        return _work(rt, burst=args.burst, tick=not args.no_tick, duties=not args.no_duties)
    finally:
        for child in children:
            if args.burst:
                child.wait()
            else:
                child.terminate()
                child.wait(timeout=30)


def _work(rt: Any, burst: bool, tick: bool, duties: bool = True) -> int:
    from rq import SimpleWorker

    push = get_push(rt)
    queue = push.ctx.queue
    assert isinstance(queue, RQJobQueue)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(rt.store, stop), name="yinling-heartbeat", daemon=True)
    beat.start()
    if tick:
        lease = rt.config.push.sending_lease_seconds
        t = threading.Thread(target=_ticker, args=(push, stop, max(0.5, min(30.0, lease / 2)), 60.0, duties),
                             name="yinling-ticker", daemon=True)
        t.start()
        sweep(utcnow())  # recover what a dead worker left before taking new work
    worker = SimpleWorker([queue.queue(name) for name in QUEUES], connection=queue.connection)
    try:
        worker.work(burst=burst, with_scheduler=not burst, logging_level=rt.config.app.log_level)
    finally:
        stop.set()
        beat.join(5)  # the heartbeat goes with the worker: `doctor` then says no worker runs
    return 0


def cmd_reminders_run(args: argparse.Namespace, rt: Any) -> int:
    push = get_push(rt)
    while True:
        sweep(utcnow())
        out = tick(push, utcnow())
        if isinstance(push.ctx.queue, LocalJobQueue):
            push.ctx.queue.drain()
        _say("提醒和审核检查完成：" + "，".join(f"{k} {v}" for k, v in out.items()))
        if not args.loop:
            return 0
        time.sleep(60)


def cmd_push_sweep(args: argparse.Namespace, rt: Any) -> int:
    get_push(rt)
    out = sweep(utcnow())
    _say(f"标记为“可能已送达” {out['uncertain']} 条，重新排队 {out['batches']} 批、{out['fanouts']} 条通知。")
    return 0


def _worker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--processes", type=int, default=1, help="本机启动几个工作进程")
    p.add_argument("--burst", action="store_true", help="队列空了就退出")
    p.add_argument("--no-tick", action="store_true", help="不做提醒、审核升级和恢复检查")
    p.add_argument("--no-duties", action="store_true",
                   help="不做定时任务（活动提醒、审核升级、服务记录到期、月度小结），仍做恢复检查")


CLI_COMMANDS: list[tuple[tuple[str, ...], str, Any, Any]] = [
    (("worker",), "启动发送通知的工作进程（RQ，先处理回复再处理群发）", _worker_args, cmd_worker),
    (("reminders", "run"), "发活动提醒、审核升级、服务记录到期提醒（可放进 cron）",
     lambda p: p.add_argument("--loop", action="store_true", help="每分钟一次，一直运行") and None,
     cmd_reminders_run),
    (("push", "sweep"), "恢复中断的群发（工作进程意外退出后）", lambda p: None, cmd_push_sweep),
]
