"""The tables of erlen-tasks: the jobs (outbox and embedded queue), idempotency keys, cron periods."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import erlen_db

#: The statuses of a job's row.
PENDING = "pending"  # committed, waiting: for a database worker, or for the relay to hand it to the broker
RELAYED = "relayed"  # handed to Redis or RabbitMQ, not started yet
RUNNING = "running"  # a worker runs it (on the database broker: claimed until claimed_until)
FAILED = "failed"  # its last run failed; it is retried at eta
DONE = "done"  # it ran to the end (or was skipped: its idempotency key had completed)
DEAD = "dead"  # it failed on every try; `erlen tasks retry` queues it again
STATUSES = (PENDING, RELAYED, RUNNING, FAILED, DONE, DEAD)


class TasksBase(DeclarativeBase):
    """The declarative base of erlen-tasks' tables, apart from the app's ``erlen_db.Model``."""

    metadata = erlen_db.naming_metadata()


class JobRecord(TasksBase):
    """One enqueued run of a job."""

    __tablename__ = "tasks_jobs"
    __table_args__ = (Index("ix_tasks_jobs_status_queue_eta", "status", "queue", "eta"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Dramatiq's message id, the same on every try.
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    job: Mapped[str] = mapped_column(String(200), index=True)
    queue: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    #: When it may run (the next try's time after a failure).
    eta: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), info={"label": "ETA"})  # the admin's heading
    #: The Dramatiq message, as JSON (the job's arguments in its kwargs).
    message: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: The worker or relay holding the row, and until when (its lease).
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    def __repr__(self) -> str:
        return f"<JobRecord {self.id} {self.job} {self.status}>"


class CompletedKey(TasksBase):
    """The idempotency key of a job run whose effect committed: a run with the same key is skipped."""

    __tablename__ = "tasks_completed_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    completed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class CronPeriod(TasksBase):
    """A period of a periodic job, claimed by the one scheduler that enqueued it."""

    __tablename__ = "tasks_cron_periods"

    job: Mapped[str] = mapped_column(String(200), primary_key=True)
    period: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` in UTC and timezone-aware (SQLite gives naive values back)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


__all__ = [
    "DEAD",
    "DONE",
    "FAILED",
    "PENDING",
    "RELAYED",
    "RUNNING",
    "STATUSES",
    "CompletedKey",
    "CronPeriod",
    "JobRecord",
    "TasksBase",
    "aware",
    "utcnow",
]
