"""A plugin declaring the jobs the tests run, and the table their effects go to."""

from __future__ import annotations

import time
import typing as t
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import erlen
import erlen_db
from erlen_tasks import job

PLUGIN = erlen.Plugin(name="tasks_testplugin", requires=["db", "tasks"])


class Base(DeclarativeBase):
    metadata = erlen_db.naming_metadata()


class Effect(Base):
    """One effect of a job run (or one try, for ``flaky``)."""

    __tablename__ = "tasks_test_effects"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(200))


def add_effect(label: str) -> None:
    erlen_db.session.add(Effect(label=label))


def record_now(label: str) -> None:
    """Record ``label`` in a transaction of its own, committed even when the job then fails."""
    from flask import current_app

    with erlen_db.database_of(current_app).session_scope() as session:
        session.add(Effect(label=label))


@job(name="test.record")
def record(label: str, times: int = 1) -> None:
    for _ in range(times):
        add_effect(label)


@job(name="test.flaky", retries=3, backoff=0.05, max_backoff=0.2)
def flaky(label: str, failures: int) -> None:
    """Fails ``failures`` times, then succeeds; each try is recorded as ``label:try``."""
    from flask import current_app

    with erlen_db.database_of(current_app).session_scope() as session:
        session.add(Effect(label=f"{label}:try"))
        session.flush()  # write first: on SQLite a transaction that reads before it writes can meet "locked"
        tries = t.cast(int, session.scalar(sa.select(sa.func.count()).where(Effect.label == f"{label}:try")))
    if tries <= failures:
        raise RuntimeError(f"failure {tries} of {failures}")
    add_effect(label)


@job(name="test.retried_later", retries=1, backoff=3.0, max_backoff=6.0)
def retried_later(label: str) -> None:
    """Fails its first try (the next comes 3 to 6 seconds later), then succeeds; each try recorded as ``label:try``."""
    record_now(f"{label}:try")
    if effects_of(f"{label}:try") == 1:
        raise RuntimeError(f"first try of {label}")
    add_effect(label)


def effects_of(label: str) -> int:
    """How many effects ``label`` has, committed."""
    from flask import current_app

    with erlen_db.database_of(current_app).session_scope() as session:
        return t.cast(int, session.scalar(sa.select(sa.func.count()).where(Effect.label == label)))


@job(name="test.count_then_write", retries=0)
def count_then_write(label: str, pause: float = 0.0) -> None:
    """Reads, then writes, in ``erlen_db.session``'s one transaction: counts the effects so far (a ``count(*)``, a
    function call, so the read begins the transaction), waits ``pause`` seconds, then records ``label:N``."""
    done = erlen_db.session.scalar(sa.select(sa.func.count()).select_from(Effect))
    time.sleep(pause)
    add_effect(f"{label}:{done}")


@job(name="test.fails_then_waits", retries=1, backoff=60.0, max_backoff=120.0)
def fails_then_waits(label: str) -> None:
    """Fails; its one retry comes 60 to 120 seconds later (after the test's end)."""
    raise RuntimeError(f"failed {label}")


@job(name="test.select_missing", retries=0)
def bad_query(table: str) -> None:
    """Fails with the database's error: it reads a table that does not exist."""
    erlen_db.session.execute(sa.text(f"SELECT * FROM {table}"))


@job(name="test.boom", retries=0)
def boom(label: str) -> None:
    raise RuntimeError(f"boom {label}")


@job(name="test.once", idempotency_key=lambda label, pause_file=None: label)
def once(label: str, pause_file: str | None = None) -> None:
    """Records ``label`` once; with ``pause_file``, the first run hangs after its commit (to be killed)."""
    add_effect(label)
    if pause_file is not None and not Path(pause_file).exists():

        def pause(session: t.Any) -> None:
            Path(pause_file).write_text("committed")
            time.sleep(120)

        sa.event.listen(erlen_db.session, "after_commit", pause, once=True)


@job(name="test.slow", queue="slow")
def slow(label: str, seconds: float, started_file: str) -> None:
    Path(started_file).write_text("started")
    time.sleep(seconds)
    add_effect(label)


def _started_then_wait_for(started_file: str, gate_file: str) -> None:
    """Write ``started_file``, then wait (at most a minute) for ``gate_file`` to exist."""
    Path(started_file).write_text("started")
    for _ in range(1200):
        if Path(gate_file).exists():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{gate_file} did not appear")


@job(name="test.gated", queue="slow", retries=0)
def gated(label: str, started_file: str, gate_file: str) -> None:
    """Writes ``started_file``, waits (at most a minute) for ``gate_file`` to exist, then records ``label``."""
    _started_then_wait_for(started_file, gate_file)
    add_effect(label)


@job(name="test.gated_file", queue="slow", retries=0)
def gated_file(runs_file: str, started_file: str, gate_file: str) -> None:
    """Like ``gated``, without the database: each run appends a line to ``runs_file`` once the gate is open."""
    _started_then_wait_for(started_file, gate_file)
    with open(runs_file, "a") as runs:
        runs.write("ran\n")


@job(name="test.hang", timeout=0.5, retries=0)
def hang(label: str) -> None:
    for _ in range(300):  # Python code: the time limit interrupts it (not a single blocking C call)
        time.sleep(0.1)
    add_effect(label)


@job(name="test.minutely", cron="* * * * *")
def minutely() -> None:
    add_effect("minutely")


@erlen.hookimpl
def erlen_db_models() -> Iterable[t.Any]:
    return [Effect]


@erlen.hookimpl
def erlen_tasks_jobs() -> Iterable[t.Any]:
    return [
        record,
        flaky,
        retried_later,
        count_then_write,
        fails_then_waits,
        bad_query,
        boom,
        once,
        slow,
        gated,
        gated_file,
        hang,
        minutely,
    ]
