"""erlen-tasks: background jobs for Erlen apps and plugins, on Dramatiq.

Declare jobs with :func:`job`, offer them through the ``erlen_tasks_jobs``
hook, enqueue them with :func:`enqueue` inside your transaction, and run
them with ``erlen tasks worker`` (or, in development, :func:`background_worker`).
"""

from __future__ import annotations

import typing as t

import erlen

if t.TYPE_CHECKING:
    from .background import background_worker, run_jobs, waiting_jobs
    from .enqueueing import enqueue
    from .errors import JobArgumentError, JobDeclarationError, TasksError, UnknownJobError, UnknownQueueError
    from .jobs import Job, job
    from .state import TasksState, state_of

# Every name is imported on first use: every process that creates the app imports this package (the plugin
# module is in it), `erlen --help` included, and these modules import Dramatiq and SQLAlchemy.
__getattr__ = erlen.lazy_exports(
    __name__,
    {
        **dict.fromkeys(("background_worker", "run_jobs", "waiting_jobs"), "erlen_tasks.background"),
        "enqueue": "erlen_tasks.enqueueing",
        **dict.fromkeys(
            ("JobArgumentError", "JobDeclarationError", "TasksError", "UnknownJobError", "UnknownQueueError"),
            "erlen_tasks.errors",
        ),
        **dict.fromkeys(("Job", "job"), "erlen_tasks.jobs"),
        **dict.fromkeys(("TasksState", "state_of"), "erlen_tasks.state"),
    },
)


__all__ = [
    "Job",
    "JobArgumentError",
    "JobDeclarationError",
    "TasksError",
    "TasksState",
    "UnknownJobError",
    "UnknownQueueError",
    "background_worker",
    "enqueue",
    "job",
    "run_jobs",
    "state_of",
    "waiting_jobs",
]
