"""The exceptions of erlen-tasks."""

from __future__ import annotations

from erlen import ErlenError


class TasksError(ErlenError):
    """Base class of erlen-tasks' errors."""


class JobDeclarationError(TasksError):
    """A job is declared wrongly (a bad option, a parameter that cannot be serialised, a duplicate name)."""


class UnknownJobError(TasksError):
    """A job was enqueued by a name that no enabled plugin declares."""


class UnknownQueueError(TasksError):
    """Jobs were to be run from a queue on which no enabled plugin declares a job (a typo, most often)."""


class JobArgumentError(TasksError):
    """A job was enqueued with arguments that do not match its signature or do not survive JSON."""


__all__ = ["JobArgumentError", "JobDeclarationError", "TasksError", "UnknownJobError", "UnknownQueueError"]
