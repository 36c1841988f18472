"""gunicorn settings for the notes app: gunicorn -c gunicorn.conf.py wsgi:app."""

bind = "127.0.0.1:8000"  # behind a reverse proxy that terminates HTTPS
# No "workers" here: gunicorn takes their number from WEB_CONCURRENCY
# (production.env), the number erlen check --deploy counts against the
# database's max_connections.
# Each worker builds the app after the fork: no engine or connection is shared.
preload_app = False
timeout = 30
graceful_timeout = 30
accesslog = "-"
