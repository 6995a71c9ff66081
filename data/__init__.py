"""The project database, its services and the files the bot learns from."""
