"""WSGI entry for gunicorn: `gunicorn -w 2 'bot.wsgi:app'`."""

from .app import create_app

app = create_app()
app.extensions["yinling"].load_nlu()
