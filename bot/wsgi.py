"""WSGI entry for gunicorn: `gunicorn -w 2 'bot.wsgi:app'` (production refuses to start without Redis)."""

from . import logs
from .app import create_app
from .config import load_config
from .runtime import require_production_services

logs.setup("INFO")  # plain lines, or JSON lines with YINLING_LOG_FORMAT=json
_config = load_config()
require_production_services(_config)
app = create_app(config=_config)
_rt = app.extensions["yinling"]
logs.setup(_rt.config.app.log_level)
_rt.load_nlu()
