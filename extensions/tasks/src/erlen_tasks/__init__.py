"""erlen-tasks: background jobs for Erlen apps and plugins, on Dramatiq.

Declare jobs with :func:`job`, offer them through the ``erlen_tasks_jobs``
hook, enqueue them with :func:`enqueue` inside your transaction, and run
them with ``erlen tasks worker`` (or, in development, :func:`background_worker`).
"""

from __future__ import annotations

from .background import background_worker, run_jobs, waiting_jobs
from .enqueueing import enqueue
from .errors import JobArgumentError, JobDeclarationError, TasksError, UnknownJobError, UnknownQueueError
from .jobs import Job, job
from .state import TasksState, state_of

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
