"""Channel clients: WeChat API, SMS providers, WeCom robot, speech recognition. They send and parse; the web
layer mounts the webhooks, the push layer sends through them, and they know nothing of notices."""
