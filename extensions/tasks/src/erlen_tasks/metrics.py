"""erlen-tasks' Prometheus metrics, made through erlen-ops' ``erlen_ops_metrics`` hook.

Counters by job and queue: ``erlen_tasks_jobs_enqueued_total`` (counted
where :func:`erlen_tasks.enqueue` is called, its transaction's outcome
aside), and, counted by the worker running them, ``..._started_total``,
``..._succeeded_total``, ``..._failed_total`` (every failed run),
``..._retried_total`` (failed runs to be tried again) and
``..._dead_total`` (failed on their last try); the histogram
``erlen_tasks_job_duration_seconds`` of runs; and, read from the jobs
table when Prometheus scrapes, ``erlen_tasks_outbox_backlog``,
``erlen_tasks_outbox_oldest_seconds`` and ``erlen_tasks_jobs_dead``.

A worker (``erlen tasks worker``) counts in its own process: under
prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set for
the web processes and the workers alike) the web processes' ``/metrics``
adds the workers' counts to their own.

An optional hook: erlen-tasks does not depend on erlen-ops.
"""

from __future__ import annotations

import time
import typing as t
from collections.abc import Mapping

import dramatiq
from dramatiq.middleware import Middleware

from .state import state_of

if t.TYPE_CHECKING:
    from flask import Flask

#: Seconds; from a quick job to one near the default timeout.
DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0)

LABELS = ("job", "queue")


class TasksMetrics:
    """The metrics of erlen-tasks in one app; kept in :attr:`TasksState.metrics`.

    :param metrics: erlen-ops' factory of the app's metrics.
    """

    def __init__(self, metrics: t.Any) -> None:
        self.enqueued = metrics.counter("erlen_tasks_jobs_enqueued_total", "Jobs enqueued.", LABELS)
        self.started = metrics.counter("erlen_tasks_jobs_started_total", "Job runs started by a worker.", LABELS)
        self.succeeded = metrics.counter("erlen_tasks_jobs_succeeded_total", "Job runs that succeeded.", LABELS)
        self.failed = metrics.counter("erlen_tasks_jobs_failed_total", "Job runs that failed.", LABELS)
        self.retried = metrics.counter(
            "erlen_tasks_jobs_retried_total", "Failed job runs that will be tried again.", LABELS
        )
        self.dead = metrics.counter("erlen_tasks_jobs_dead_total", "Jobs that failed on their last try.", LABELS)
        self.duration = metrics.histogram(
            "erlen_tasks_job_duration_seconds", "Time of job runs.", LABELS, buckets=DURATION_BUCKETS
        )


class JobMetrics(Middleware):
    """Dramatiq middleware counting a worker's job runs into :class:`TasksMetrics`.

    :param metrics: the app's metrics.
    :param queues: the job queue's name (``job.queue``) by broker queue name (with ``TASKS_QUEUE_PREFIX``).
    """

    def __init__(self, metrics: TasksMetrics, queues: Mapping[str, str]) -> None:
        self.metrics = metrics
        self.queues = dict(queues)
        self.started: dict[str, float] = {}

    def _labels(self, message: t.Any) -> tuple[str, str]:
        queue = message.queue_name.removesuffix(".DQ").removesuffix(".XQ")
        return message.actor_name, self.queues.get(queue, queue)

    def before_process_message(self, broker: dramatiq.Broker, message: t.Any) -> None:
        self.started[message.message_id] = time.perf_counter()
        self.metrics.started.labels(*self._labels(message)).inc()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: t.Any,
        *,
        result: t.Any = None,
        exception: BaseException | None = None,
    ) -> None:
        labels = self._labels(message)
        started = self.started.pop(message.message_id, None)
        if started is not None:
            self.metrics.duration.labels(*labels).observe(time.perf_counter() - started)
        if exception is None:
            self.metrics.succeeded.labels(*labels).inc()
            return
        self.metrics.failed.labels(*labels).inc()
        # Retries (a middleware after this one) has decided by now: a failed message is out of tries.
        (self.metrics.dead if message.failed else self.metrics.retried).labels(*labels).inc()

    def after_skip_message(self, broker: dramatiq.Broker, message: t.Any) -> None:
        self.started.pop(message.message_id, None)


def install_metrics(app: Flask, metrics: t.Any) -> None:
    """Make erlen-tasks' metrics for ``app`` (when erlen-ops' ``OPS_METRICS`` is on): the plugin's
    ``erlen_ops_metrics``.

    :param app: the app whose jobs are measured.
    :param metrics: erlen-ops' factory of metrics.
    """
    from .health import jobs_backlog

    state_of(app).metrics = TasksMetrics(metrics)
    metrics.on_scrape(
        "erlen_tasks_outbox_backlog",
        "Jobs due and not taken yet (with Redis or RabbitMQ: not handed to the broker yet).",
        lambda: jobs_backlog(app).waiting,
    )
    metrics.on_scrape(
        "erlen_tasks_outbox_oldest_seconds",
        "How long the longest-waiting of those jobs has been due.",
        lambda: jobs_backlog(app).oldest_seconds,
    )
    metrics.on_scrape(
        "erlen_tasks_jobs_dead", "Jobs that failed on every try, in the jobs table.", lambda: jobs_backlog(app).dead
    )


__all__ = ["DURATION_BUCKETS", "JobMetrics", "TasksMetrics", "install_metrics"]
