"""The running service, in layers (bot/README.md): entry points; web; push | pipeline; channels; runtime; config."""
