"""What a gunicorn configuration file needs for metrics across workers.

In ``gunicorn.conf.py``::

    from erlen_ops.gunicorn import child_exit  # noqa: F401

gunicorn calls ``child_exit`` in the arbiter when a worker exits, so the
gauges of the dead worker (database connections in use, requests in
flight) leave the sums, as prometheus-client's multiprocess mode asks.
"""

from __future__ import annotations

import typing as t

from .names import multiprocess_dir


def child_exit(server: t.Any, worker: t.Any) -> None:
    """gunicorn's ``child_exit`` hook: mark the worker's live gauges dead.

    :param server: gunicorn's arbiter.
    :param worker: the worker that exited.
    """
    folder = multiprocess_dir()
    if folder is not None:
        from prometheus_client import multiprocess

        from .inflight import remove_file

        multiprocess.mark_process_dead(worker.pid, folder)  # type: ignore[no-untyped-call]
        remove_file(folder, worker.pid)
