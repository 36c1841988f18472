"""The hook specification of the ``tasks`` plugin, for plugins that declare background jobs.

A plugin implements it like Erlen's core hooks, with :data:`erlen.hookimpl`;
mark it ``optionalhook=True`` so the plugin also loads when ``tasks`` is not
enabled.
"""

# The specifications are stubs: their bodies are their docstrings.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import typing as t
from collections.abc import Iterable

from erlen import hookspec

if t.TYPE_CHECKING:
    from flask import Flask

    from .jobs import Job


@hookspec
def erlen_tasks_jobs() -> Iterable[Job]:
    """Return the background jobs the plugin declares, made with :func:`erlen_tasks.job`.

    .. code-block:: python

        from erlen_tasks import job

        @job(queue="mail", retries=5, timeout=30)
        def send_digest(user_id: int) -> None:
            ...

        @job(cron="0 3 * * *")
        def nightly_cleanup() -> None:
            ...

        @erlen.hookimpl(optionalhook=True)
        def erlen_tasks_jobs():
            return [send_digest, nightly_cleanup]

    Each job's name (``module.function`` unless ``name=`` is given) must be
    unique among the enabled plugins. A job's arguments are checked against
    its annotations whenever it is enqueued; a periodic job (``cron=``) takes
    none.
    """


@hookspec
def erlen_tasks_worker_started(app: Flask) -> None:
    """Called in a worker (``erlen tasks worker``, :func:`erlen_tasks.worker.start_worker`) before it takes jobs.

    For what serving jobs needs that an app the ``erlen`` command made sets up only when it serves: erlen-ops
    sets up its metrics and tracing there (in a web process, at the first request), so the worker's jobs are
    counted and traced. An exception stops the worker from starting.

    :param app: the worker's app.
    """
