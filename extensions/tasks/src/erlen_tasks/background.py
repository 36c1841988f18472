"""A worker in a thread of the current process, for development servers, demos and tests."""

from __future__ import annotations

import contextlib
import threading
import typing as t
from collections.abc import Callable, Iterable, Iterator

if t.TYPE_CHECKING:
    from flask import Flask

    from .worker import RunReport


@contextlib.contextmanager
def background_worker(
    app: Flask,
    *,
    threads: int = 2,
    queues: Iterable[str] = (),
    scheduler: bool = True,
    report: Callable[[RunReport], None] | None = None,
    stop_timeout: float = 30.0,
) -> Iterator[threading.Thread]:
    """Run ``erlen tasks worker``'s loop in a thread of this process while the block runs.

    For development: a demo or a development server runs its jobs without a
    second process (``python -m erlen --app notes_app demo`` does), and a test
    runs the jobs it enqueued. It is the same worker as the command's, on the
    same broker, with the same guarantees; in production run ``erlen tasks
    worker`` processes instead, which a deployment can restart and scale on
    their own.

    .. code-block:: python

        with background_worker(app):
            app.run()

    On leaving the block the worker stops once its running jobs end (at most
    ``stop_timeout`` seconds).

    :param app: the app (with ``tasks`` enabled).
    :param threads: jobs run at once.
    :param queues: the queues to work on (without ``TASKS_QUEUE_PREFIX``); all by default.
    :param scheduler: enqueue the periodic (cron) jobs too.
    :param report: called with each finished run (a ``RunReport``: job, message id, outcome, seconds, error).
    :param stop_timeout: seconds to wait for the running jobs when the block ends.
    :returns: the worker's thread.
    :raises RuntimeError: the worker did not stop within ``stop_timeout`` (and 10 more seconds).
    """
    from .state import state_of
    from .worker import WorkerOptions, run_worker

    state_of(app)  # PluginNotEnabledError now, rather than in the thread
    stop = threading.Event()
    options = WorkerOptions(queues=tuple(queues), threads=threads, scheduler=scheduler, stop_timeout=stop_timeout)
    thread = threading.Thread(
        target=run_worker,
        args=(app, stop, options),
        kwargs={"report": report or (lambda _: None)},
        name="erlen-tasks-background-worker",
        daemon=True,
    )
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=stop_timeout + 10.0)
        if thread.is_alive():
            raise RuntimeError(f"The background tasks worker did not stop within {stop_timeout + 10.0:g} seconds.")


__all__ = ["background_worker"]
