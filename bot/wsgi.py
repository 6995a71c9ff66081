"""WSGI entry for gunicorn: `gunicorn -w 2 'bot.wsgi:app'`."""

import logging
import sys

from .app import create_app

logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="%(asctime)s %(levelname)s %(process)d %(name)s %(message)s")
app = create_app()
_rt = app.extensions["yinling"]
logging.getLogger().setLevel(_rt.config.app.log_level)
_rt.load_nlu()
