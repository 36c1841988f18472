"""gunicorn -c gunicorn.conf.py wsgi:app, with erlen-ops' metrics."""

# When a worker exits, its live gauges (database connections
# in use, requests in flight) leave the sums.
from erlen_ops.gunicorn import child_exit  # noqa: F401

bind = "127.0.0.1:8000"
preload_app = False
timeout = 30
graceful_timeout = 30
