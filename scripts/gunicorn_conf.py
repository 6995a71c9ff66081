"""gunicorn settings for /metrics in multiprocess mode: `gunicorn -c scripts/gunicorn_conf.py 'bot.wsgi:app'`.

Each worker keeps its Prometheus values in files under PROMETHEUS_MULTIPROC_DIR (set it in the service's
environment, the same directory for the web and the worker processes of this host). The directory is
cleared of files left by processes that no longer run when gunicorn starts (a queue worker of this host
that is still running keeps its files), and a dead worker's live gauges are dropped.
"""

import os
import re
from pathlib import Path

from gunicorn.glogging import Logger

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))  # per 2 cores: see deploy/systemd/yinling-web.service
timeout = 30

# YINLING_LOG_FORMAT=json: gunicorn's own lines (starting, booting and stopping workers, a worker's timeout) are
# JSON objects like the service's, so that every line of the unit's journal reads with one parser. Only the
# formatter of gunicorn's error log changes: a logconfig_dict would also turn the access log on, query strings
# (WeChat's signature, the SMS token) and all, where --access-logfile is not given.
class JsonErrorLog(Logger):
    def setup(self, cfg):  # noqa: ANN001, ANN201 - gunicorn's signature
        super().setup(cfg)
        from bot.logs import JsonLines

        for handler in self.error_log.handlers:
            handler.setFormatter(JsonLines())


if os.environ.get("YINLING_LOG_FORMAT", "").strip().lower() == "json":
    logger_class = JsonErrorLog


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for file in path.glob("*.db"):  # prometheus_client's files: <kind>_<pid>.db
        found = re.search(r"_(\d+)\.db$", file.name)
        if found and not _alive(int(found.group(1))):
            file.unlink(missing_ok=True)


def child_exit(server, worker):  # noqa: ANN001, ANN201
    from bot.metrics import mark_process_dead

    mark_process_dead(worker.pid)
