"""What the worker runs for one job: the app context, the commit of the job's session, the rollback on failure."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa
from conftest import TasksApp
from sqlalchemy.orm import Session
from tasks_support import effects
from tasks_testplugin import add_effect, once, record

import erlen_db
from erlen_tasks import job
from erlen_tasks.runner import make_runner


@job(name="test.quiet")
def quiet(label: str) -> None:
    """A job that does not touch the database."""


@job(name="test.core_write")
def core_write(label: str) -> None:
    """A job that writes with a Core statement on the app context's connection, making no session."""
    erlen_db.get_connection().execute(
        sa.text("INSERT INTO tasks_test_effects (label) VALUES (:label)"), {"label": label}
    )


@job(name="test.core_write_then_fails")
def core_write_then_fails(label: str) -> None:
    core_write(label)
    raise RuntimeError("after the Core write")


@job(name="test.writes_then_fails")
def writes_then_fails(label: str) -> None:
    add_effect(label)
    raise RuntimeError("after the write")


def sessions_begun() -> tuple[list[Session], t.Callable[[], None]]:
    begun: list[Session] = []

    def listener(session: Session, transaction: t.Any) -> None:
        begun.append(session)

    sa.event.listen(Session, "after_transaction_create", listener)
    return begun, lambda: sa.event.remove(Session, "after_transaction_create", listener)


def test_a_job_that_does_not_use_the_database_costs_no_session(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    begun, stop = sessions_begun()
    try:
        make_runner(app, quiet)(label="q")
    finally:
        stop()
    assert begun == []


def test_the_session_a_job_used_is_committed(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    make_runner(app, record)(label="kept", times=2)
    assert effects(app) == ["kept", "kept"]


def test_a_core_write_on_the_context_s_connection_is_committed_or_rolled_back(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    make_runner(app, core_write)(label="core")
    with pytest.raises(RuntimeError, match="after the Core write"):
        make_runner(app, core_write_then_fails)(label="dropped")
    assert effects(app) == ["core"]


def test_the_session_of_a_failed_job_is_rolled_back(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    with pytest.raises(RuntimeError, match="after the write"):
        make_runner(app, writes_then_fails)(label="dropped")
    assert effects(app) == []


def test_a_completed_idempotency_key_skips_the_run(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    run = make_runner(app, once)
    run(label="k")
    run(label="k")
    assert effects(app) == ["k"]
