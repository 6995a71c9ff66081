"""The running service: app factory, channels, pipeline, push, admin, CLI and configuration."""
