"""The gunicorn configuration of the test, as the operations guide shows it."""

from erlen_ops.gunicorn import child_exit  # noqa: F401
