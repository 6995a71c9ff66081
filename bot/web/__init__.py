"""The web layer: the WeChat and SMS webhooks (they call the pipeline) and the coordinators' pages (push, data)."""
