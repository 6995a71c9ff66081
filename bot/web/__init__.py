"""The web layer: the WeChat and SMS webhooks (they call the pipeline) and the coordinators' pages (push, data)."""

from __future__ import annotations

from typing import Any

from ..runtime import Runtime


def runtime_of(app: Any) -> Runtime:
    """The runtime the app factory (bot.app.create_app) installed on this Flask app."""
    rt: Runtime = app.extensions["yinling"]
    return rt
