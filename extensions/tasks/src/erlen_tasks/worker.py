"""Running a worker: Dramatiq's worker on the app's broker, with the relay and the scheduler beside it."""

from __future__ import annotations

import threading
import time
import typing as t
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dramatiq
from dramatiq.errors import ActorNotFound
from dramatiq.middleware import Middleware

import erlen

from .brokers.database import unknown_job_error
from .brokers.tracking import message_of
from .failures import summarize_exception

if t.TYPE_CHECKING:
    from flask import Flask


@dataclass
class RunReport:
    """One finished run of a job, for progress lines."""

    job: str
    message_id: str
    #: ``done``, ``retrying``, ``dead`` or ``skipped``.
    outcome: str
    seconds: float
    error: str | None = None
    #: For a ``retrying`` run: seconds from its failure to its next try (the backoff Dramatiq's ``Retries`` chose).
    retry_in: float | None = None


class Progress(Middleware):
    """Dramatiq middleware reporting each finished run to ``report``.

    :param report: called with a :class:`RunReport` once each run ends.
    """

    def __init__(self, report: Callable[[RunReport], None]) -> None:
        self.report = report
        self.started: dict[str, float] = {}
        self.counts: dict[str, int] = {"done": 0, "retrying": 0, "dead": 0, "skipped": 0}
        #: The delay, in seconds, of each failed run's next try, by message id, until its run is reported.
        self.retry_delays: dict[str, float] = {}
        self._lock = threading.Lock()

    def before_process_message(self, broker: dramatiq.Broker, message: t.Any) -> None:
        started = time.monotonic()
        message_id = message_of(message).message_id  # not through the proxy's __getattr__: see message_of
        with self._lock:
            self.started[message_id] = started

    def before_enqueue(self, broker: dramatiq.Broker, message: t.Any, delay: int | None) -> None:
        # Retries sends a failed message back with its backoff (in ms) before after_process_message below runs.
        if delay is not None and "retries" in message.options:
            with self._lock:
                self.retry_delays[message_of(message).message_id] = delay / 1000

    def _finish(self, message: t.Any, outcome: str, error: str | None) -> None:
        ended = time.monotonic()
        wrapped = message_of(message)
        message_id = wrapped.message_id
        with self._lock:
            started = self.started.pop(message_id, ended)
            retry_in = self.retry_delays.pop(message_id, None)
            self.counts[outcome] += 1
        self.report(
            RunReport(
                wrapped.actor_name,
                message_id,
                outcome,
                ended - started,
                error,
                retry_in=retry_in if outcome == "retrying" else None,
            )
        )

    def after_process_message(
        self, broker: dramatiq.Broker, message: t.Any, *, result: t.Any = None, exception: BaseException | None = None
    ) -> None:
        if exception is None:
            self._finish(message, "done", None)
        else:
            self._finish(message, "dead" if message.failed else "retrying", summarize_exception(exception))

    def after_skip_message(self, broker: dramatiq.Broker, message: t.Any) -> None:
        self._finish(message, "skipped", None)

    def after_nack(self, broker: dramatiq.Broker, message: t.Any) -> None:
        # A job no plugin of this worker declares is rejected without a run (see Tracking.after_nack): its
        # line says so, rather than nothing. A job rejected after its run was reported by after_process_message.
        if isinstance(getattr(message, "_exception", None), ActorNotFound):
            self._finish(message, "dead", unknown_job_error(message_of(message).actor_name))


@dataclass
class WorkerOptions:
    """How ``erlen tasks worker`` runs."""

    #: The job queues to work on (their names without TASKS_QUEUE_PREFIX); all by default.
    queues: Iterable[str] = ()
    #: Worker threads running jobs.
    threads: int = 4
    #: Run the relay (Redis and RabbitMQ brokers).
    relay: bool = True
    #: Run the cron scheduler.
    scheduler: bool = True
    #: Seconds to wait for running jobs when stopping.
    stop_timeout: float = 600.0


@dataclass
class StartedWorker:
    """A worker started by :func:`start_worker`: Dramatiq's worker on its own broker, and the threads beside it.

    :param broker: the worker's broker (its middleware is not the web processes' broker's).
    :param worker: Dramatiq's worker, running.
    :param progress: the middleware counting the outcomes of the runs.
    :param threads: the relay's and the scheduler's threads, running until the ``stop`` event is set.
    :param stop: the event that ends those threads.
    """

    broker: dramatiq.Broker
    worker: dramatiq.Worker
    progress: Progress
    threads: list[threading.Thread]
    stop: threading.Event

    def close(self, timeout: float) -> dict[str, int]:
        """Stop after the running jobs end (waiting at most ``timeout`` seconds); returns the counts of outcomes.

        :param timeout: seconds to wait for the running jobs.
        """
        self.stop.set()
        self.worker.stop(timeout=int(timeout * 1000))
        for thread in self.threads:
            thread.join(timeout=10.0)
        from .brokers import close_broker

        close_broker(self.broker)
        return dict(self.progress.counts)


def start_worker(
    app: Flask,
    stop: threading.Event,
    options: WorkerOptions,
    *,
    report: Callable[[RunReport], None] = lambda _: None,
    report_relay: Callable[[t.Any], None] | None = None,
    report_schedule: Callable[[t.Any], None] | None = None,
) -> StartedWorker:
    """Start running jobs (Dramatiq's worker, the relay, the scheduler); :meth:`StartedWorker.close` stops.

    :param app: the app.
    :param stop: set it to stop the relay and the scheduler (:meth:`StartedWorker.close` does).
    :param options: the worker's options.
    :param report: called with each finished run.
    :param report_relay: called with each relay pass that did something.
    :param report_schedule: called with each scheduler tick that enqueued something.
    :raises UnknownQueueError: no job is declared on one of ``options.queues``.
    """
    from .brokers import make_broker
    from .relay import Relay
    from .scheduler import Scheduler
    from .state import state_of

    state = state_of(app)
    chosen = state.check_queues(options.queues)  # Dramatiq's worker would consume nothing from a typo, silently
    # Before reading state.metrics: erlen-ops makes them (through erlen_ops_metrics) when the worker starts.
    erlen.plugins_of(app).call_each("erlen_tasks_worker_started", app=app)
    # The worker's own: its middleware is not the web processes' broker's, and it keeps trying an absent broker.
    broker = make_broker(state, keeps_trying=True)
    progress = Progress(report)
    broker.add_middleware(progress, before=type(broker.middleware[0]))
    if state.metrics is not None:  # erlen-ops' metrics are on
        from .metrics import JobMetrics

        job_queues = {state.queue_name(job.queue): job.queue for job in state.jobs.values()}
        # First, as Progress: its "after" hooks run after Retries', which decides whether a failure is the last.
        broker.add_middleware(JobMetrics(state.metrics, job_queues), before=type(broker.middleware[0]))
    queues = {state.queue_name(name) for name in chosen} or None
    worker = dramatiq.Worker(broker, queues=queues, worker_threads=options.threads, worker_timeout=1000)
    threads: list[threading.Thread] = []
    poll = float(app.config.get("TASKS_POLL_SECONDS", 1.0))
    if options.relay and state.uses_relay:
        relay = Relay(app, broker=broker)
        threads.append(
            threading.Thread(
                target=relay.run, args=(stop,), kwargs={"poll": min(poll, 0.5), "report": report_relay}, daemon=True
            )
        )
    scheduler = Scheduler(app) if options.scheduler else None
    if scheduler is not None and scheduler.has_work:  # periodic jobs, or the retention of finished rows
        threads.append(
            threading.Thread(
                target=scheduler.run, args=(stop,), kwargs={"poll": poll, "report": report_schedule}, daemon=True
            )
        )
    # What Dramatiq's own command does once per process: starts the time limits' watcher thread.
    broker.emit_after("process_boot")
    worker.start()
    for thread in threads:
        thread.start()
    return StartedWorker(broker, worker, progress, threads, stop)


def run_worker(
    app: Flask,
    stop: threading.Event,
    options: WorkerOptions,
    *,
    report: Callable[[RunReport], None] = lambda _: None,
    report_relay: Callable[[t.Any], None] | None = None,
    report_schedule: Callable[[t.Any], None] | None = None,
) -> dict[str, int]:
    """Run jobs until ``stop`` is set, then stop after the running jobs end; returns the counts of outcomes.

    :param app: the app.
    :param stop: set it (from a signal handler) to stop.
    :param options: the worker's options.
    :param report: called with each finished run.
    :param report_relay: called with each relay pass that did something.
    :param report_schedule: called with each scheduler tick that enqueued something.
    """
    started = start_worker(
        app, stop, options, report=report, report_relay=report_relay, report_schedule=report_schedule
    )
    try:
        while not stop.wait(0.2):
            pass
    finally:
        counts = started.close(options.stop_timeout)
    return counts


__all__ = ["Progress", "RunReport", "StartedWorker", "WorkerOptions", "run_worker", "start_worker"]
