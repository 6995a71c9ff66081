"""Push: notices to groups with per-person channel fallback, fan-out as RQ jobs, reminders, escalation."""

from __future__ import annotations

import logging

from .jobs import PushContext, context, set_context
from .queue import QUEUES, JobSpec, LocalJobQueue, RQJobQueue
from .service import Progress, PushService, get_push

log = logging.getLogger("yinling.push")

__all__ = ["JobSpec", "LocalJobQueue", "Progress", "PushContext", "PushService", "QUEUES",
           "RQJobQueue", "context", "get_push", "set_context"]
