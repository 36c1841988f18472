"""The per-app state of erlen-tasks, kept in ``app.extensions["tasks"]``."""

from __future__ import annotations

import threading
import typing as t
from dataclasses import dataclass, field

from flask import current_app

import erlen

if t.TYPE_CHECKING:
    import dramatiq
    import sqlalchemy as sa
    from flask import Flask

    from .handoff import Handoff
    from .jobs import Job
    from .metrics import TasksMetrics
    from .outbox import PreparedInsert

#: The key of ``app.extensions`` under which :class:`TasksState` lives.
EXTENSION_KEY = "tasks"


@dataclass
class TasksState:
    """What erlen-tasks knows about one app.

    :param app: the app.
    :param jobs: every declared job, by name.
    :param owners: the plugin that declared each job, by job name.
    """

    app: Flask
    jobs: dict[str, Job]
    owners: dict[str, str]
    #: erlen-tasks' Prometheus metrics, made when erlen-ops' ``OPS_METRICS`` is on; ``None`` otherwise.
    metrics: TasksMetrics | None = field(default=None, repr=False)
    _broker: dramatiq.Broker | None = field(default=None, repr=False)
    _handoff: Handoff | None = field(default=None, repr=False)
    #: The outbox row's INSERT and the dialect it was compiled for (see :mod:`erlen_tasks.outbox`).
    _prepared: tuple[object, PreparedInsert | None] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def broker_kind(self) -> str:
        """``database``, ``redis`` or ``rabbitmq`` (``TASKS_BROKER``)."""
        return str(self.app.config.get("TASKS_BROKER", "database"))

    @property
    def uses_relay(self) -> bool:
        """Whether committed jobs wait in the outbox for the relay (Redis, RabbitMQ) rather than run from it."""
        return self.broker_kind != "database"

    def queue_name(self, queue: str) -> str:
        """The broker's name of the job queue ``queue``: ``TASKS_QUEUE_PREFIX`` and the name."""
        return f"{self.app.config.get('TASKS_QUEUE_PREFIX', '')}{queue}"

    @property
    def broker(self) -> dramatiq.Broker:
        """The app's Dramatiq broker with an actor per job, made (and connected) on first use."""
        with self._lock:
            if self._broker is None:
                from .brokers import make_broker

                self._broker = make_broker(self)
            return self._broker

    @property
    def hands_off(self) -> bool:
        """Whether committed jobs go to the broker right after the commit (``TASKS_HANDOFF``, Redis, RabbitMQ)."""
        return self.uses_relay and bool(self.app.config.get("TASKS_HANDOFF", True))

    @property
    def handoff(self) -> Handoff:
        """The hand-off of this process's committed jobs to the broker (see :mod:`erlen_tasks.handoff`)."""
        handoff = self._handoff
        if handoff is None:
            with self._lock:
                if self._handoff is None:
                    from .handoff import Handoff

                    self._handoff = Handoff(self)
                handoff = self._handoff
        return handoff

    def prepared_insert(self, dialect: sa.Dialect) -> PreparedInsert | None:
        """The outbox row's ``INSERT`` compiled for ``dialect`` (made on first use), or ``None`` for Core's.

        :param dialect: the dialect of the connection the row is written on (connected once already).
        """
        prepared = self._prepared
        if prepared is None or prepared[0] is not dialect:
            from .outbox import PreparedInsert

            prepared = self._prepared = (dialect, PreparedInsert.for_dialect(dialect))
        return prepared[1]

    def close(self) -> None:
        """Write the hand-off's marks and close the broker's connections, if made; the next use makes new ones."""
        with self._lock:
            handoff, self._handoff = self._handoff, None
        if handoff is not None:
            handoff.close()
        with self._lock:
            broker, self._broker = self._broker, None
        if broker is not None:
            from .brokers import close_broker

            close_broker(broker)

    def check_queues(self, queues: t.Iterable[str]) -> tuple[str, ...]:
        """``queues`` (job queue names, without ``TASKS_QUEUE_PREFIX``), once each is known to have jobs.

        A worker on a queue no job is declared on would consume nothing from it, silently: a typo would
        leave jobs waiting.

        :param queues: the queues to work on.
        :raises UnknownQueueError: no enabled plugin declares a job on one of them; the message lists those
            that do.
        :raises TypeError: ``queues`` is a single name (a string), not a list of names.
        """
        from .errors import UnknownQueueError

        if isinstance(queues, str):
            # tuple("default") is ('d', 'e', ...): the message would name seven one-letter queues.
            raise TypeError(f"queues is a list of queue names: pass [{queues!r}], not {queues!r}.")
        queues = tuple(queues)
        declared = sorted({job.queue for job in self.jobs.values()})
        unknown = [name for name in queues if name not in declared]
        if unknown:
            raise UnknownQueueError(
                f"no job is declared on the queue(s) {', '.join(map(repr, unknown))}; the jobs' queues are "
                + (", ".join(map(repr, declared)) or "none (no enabled plugin declares a job)")
                + "."
            )
        return queues

    def get_job(self, name: str) -> Job:
        """The job named ``name``.

        :raises UnknownJobError: no enabled plugin declares it.
        """
        from .errors import UnknownJobError

        try:
            return self.jobs[name]
        except KeyError:
            known = ", ".join(sorted(self.jobs)) or "none"
            raise UnknownJobError(
                f"There is no job {name!r}. Jobs of the enabled plugins: {known}. A plugin declares jobs "
                "through its erlen_tasks_jobs hook."
            ) from None


def state_of(app: Flask | None = None) -> TasksState:
    """The erlen-tasks state of ``app``, or of the current app.

    The first call on an app that the ``erlen`` command created collects the
    plugins' jobs then (see :func:`erlen.defer_setup`).

    :raises erlen.PluginNotEnabledError: the ``tasks`` plugin is not enabled on the app.
    """
    if app is None:
        app = t.cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
    state = app.extensions.get(EXTENSION_KEY)
    if state is None:
        erlen.finish_setup(app)  # nothing, unless the app deferred its set-up
        state = erlen.extension_state(EXTENSION_KEY, app)
    return t.cast(TasksState, state)


__all__ = ["EXTENSION_KEY", "TasksState", "state_of"]
