"""gunicorn settings for the notes app: gunicorn -c gunicorn.conf.py wsgi:app."""

import multiprocessing

bind = "127.0.0.1:8000"  # behind a reverse proxy that terminates HTTPS
workers = multiprocessing.cpu_count() * 2 + 1
# Each worker builds the app after the fork: no engine or connection is shared.
preload_app = False
timeout = 30
graceful_timeout = 30
accesslog = "-"
