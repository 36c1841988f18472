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
    :raises UnknownQueueError: no job is declared on one of ``queues``.
    :raises TypeError: ``queues`` is a string (one name) rather than a list of names.
    :raises RuntimeError: the worker did not stop within ``stop_timeout`` (and 10 more seconds).
    """
    from .state import state_of
    from .worker import WorkerOptions, run_worker

    # PluginNotEnabledError and UnknownQueueError now, rather than in the thread.
    queues = state_of(app).check_queues(queues)
    stop = threading.Event()
    options = WorkerOptions(queues=queues, threads=threads, scheduler=scheduler, stop_timeout=stop_timeout)
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


def _refuse_a_rolled_back_transaction(app: Flask, function: str) -> None:
    """Refuse to read the jobs while the app's sessions write inside ``db_session``'s transaction.

    The jobs a test's requests enqueue there exist on that transaction's connection only; the worker's threads
    and this count read on connections of their own, so they would find nothing (or, on SQLite in memory, no
    table at all) and the test would pass or fail for the wrong reason.

    :param app: the app.
    :param function: the name of the function called, for the message.
    :raises RuntimeError: the app's sessions join a transaction of ``erlen_db.rolled_back``.
    """
    import erlen_db

    if erlen_db.database_of(app).in_rolled_back_transaction:
        raise RuntimeError(
            f"{function}() reads the committed jobs on connections of its own, which cannot see what the app "
            "wrote inside the db_session fixture's transaction (erlen_db.rolled_back), rolled back at the test's "
            "end: test jobs on an app without db_session, such as make_db_app(plugins, config, create_all=True), "
            f"and call {function}(app) after the requests that enqueue them."
        )


def waiting_jobs(app: Flask, queues: Iterable[str] = ()) -> int:
    """How many committed jobs of ``queues`` (all by default) are due and not finished: pending, relayed or running.

    A count, not the jobs: ``waiting_jobs(app) == 0`` once every job due has
    run (read ``tasks_jobs``, or run ``erlen tasks list``, to see them).
    Jobs that failed and wait for their retry's time, and jobs enqueued for
    later, are not counted.

    .. code-block:: python

        run_jobs(app)
        assert waiting_jobs(app) == 0

    :param app: the app (with ``tasks`` enabled).
    :param queues: the queues (without ``TASKS_QUEUE_PREFIX``).
    :returns: the number of such jobs (an ``int``).
    :raises UnknownQueueError: no job is declared on one of ``queues``.
    :raises TypeError: ``queues`` is a string (one name) rather than a list of names.
    :raises RuntimeError: called under the ``db_session`` fixture, whose jobs it cannot see.
    """
    import sqlalchemy as sa

    import erlen_db

    from .models import PENDING, RELAYED, RUNNING, JobRecord, utcnow
    from .state import state_of

    _refuse_a_rolled_back_transaction(app, "waiting_jobs")
    state = state_of(app)
    queues = state.check_queues(queues)
    query = sa.select(sa.func.count()).where(
        JobRecord.status.in_((PENDING, RELAYED, RUNNING)), JobRecord.eta <= utcnow()
    )
    names = [state.queue_name(name) for name in queues]
    if names:
        query = query.where(JobRecord.queue.in_(names))
    with erlen_db.database_of(app).engine.connect() as connection:
        return int(connection.scalar(query) or 0)


def run_jobs(app: Flask, *, queues: Iterable[str] = (), timeout: float = 60.0) -> int:
    """Run the committed, due jobs of ``queues`` (all by default) in this process, until none is waiting.

    For tests and scripts: the jobs a request enqueued, and those they
    enqueue in turn, run now, on a :func:`background_worker` started only if
    a job is waiting. Periodic jobs are not scheduled; a job that failed and
    waits for its retry is left to it.

    .. code-block:: python

        client.post("/notes/new", data=...)
        run_jobs(app)  # the notification job ran: its mail is queued

    :param app: the app (with ``tasks`` enabled).
    :param queues: the queues to run (without ``TASKS_QUEUE_PREFIX``).
    :param timeout: seconds after which jobs still waiting fail the call.
    :returns: how many runs ended (done, retrying, dead or skipped).
    :raises UnknownQueueError: no job is declared on one of ``queues`` (a typo would otherwise run nothing).
    :raises TypeError: ``queues`` is a string (one name) rather than a list of names.
    :raises TimeoutError: jobs were still waiting after ``timeout`` seconds.
    :raises RuntimeError: called under the ``db_session`` fixture, whose jobs it cannot see.
    """
    import time

    from .state import state_of

    _refuse_a_rolled_back_transaction(app, "run_jobs")

    queues = state_of(app).check_queues(queues)
    if not waiting_jobs(app, queues):
        return 0
    runs: list[RunReport] = []
    deadline = time.monotonic() + timeout
    with background_worker(app, queues=queues, scheduler=False, report=runs.append):
        while waiting_jobs(app, queues):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Jobs were still waiting after {timeout:g} seconds: is one of them stuck?")
            time.sleep(0.02)
    return len(runs)


__all__ = ["background_worker", "run_jobs", "waiting_jobs"]
