"""Enqueuing with the transaction: a job exists once the caller commits, never after a rollback."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from conftest import TasksApp
from tasks_support import rows
from tasks_testplugin import record

import erlen_db
from erlen_tasks import JobArgumentError, TasksError, UnknownJobError, enqueue
from erlen_tasks.models import PENDING


def test_a_committed_enqueue_is_a_pending_row(make_tasks_app: TasksApp, queue_prefix: str) -> None:
    app = make_tasks_app()
    with app.app_context():
        row = enqueue("test.record", "a", times=2)
        assert row.id is not None
        erlen_db.session.commit()
    [stored] = rows(app)
    assert (stored.job, stored.status, stored.queue, stored.attempts) == (
        "test.record",
        PENDING,
        f"{queue_prefix}default",
        0,
    )
    assert '"kwargs":{"label":"a","times":2}' in stored.message


def test_the_returned_row_is_the_session_s_with_every_column_as_written(make_tasks_app: TasksApp) -> None:
    # As if loaded: persistent, nothing left to load (no query on reading it), changes flushed by the ORM.
    app = make_tasks_app()
    with app.app_context():
        row = record.enqueue("as written")
        state = sa.inspect(row)
        assert state.persistent and row in erlen_db.session
        assert state.unloaded == set()
        statements: list[str] = []
        sa.event.listen(erlen_db.session.connection(), "before_cursor_execute", lambda *a: statements.append(a[2]))
        assert (row.status, row.attempts, row.last_error, row.claimed_until) == (PENDING, 0, None, None)
        assert statements == []
        row.priority = 7
        erlen_db.session.commit()
    [stored] = rows(app)
    assert (stored.priority, stored.last_error) == (7, None)


def test_a_rolled_back_enqueue_leaves_nothing(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    with app.app_context():
        record.enqueue("kept-out")
        erlen_db.session.rollback()
    with app.app_context():
        record.enqueue("never committed")  # the app context ends without a commit
    assert rows(app) == []


def test_a_row_enqueued_in_a_rolled_back_savepoint_is_no_longer_the_session_s(make_tasks_app: TasksApp) -> None:
    # As for a row the ORM inserts itself: the caller can tell that the job went with the savepoint.
    app = make_tasks_app()
    with app.app_context():
        with erlen_db.session.begin_nested() as savepoint:
            dropped = record.enqueue("dropped")
            savepoint.rollback()
        with erlen_db.session.begin_nested():
            released = record.enqueue("released")
        assert not sa.inspect(dropped).persistent and dropped not in erlen_db.session
        assert sa.inspect(released).persistent
        erlen_db.session.commit()
        assert sa.inspect(released).persistent
    assert [row.message.count('"released"') for row in rows(app)] == [1]


def test_a_request_that_fails_enqueues_nothing(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()

    @app.post("/ok")
    def ok() -> str:
        record.enqueue("ok")
        erlen_db.session.commit()
        return "ok"

    @app.post("/fails")
    def fails() -> str:
        record.enqueue("fails")
        erlen_db.session.flush()
        raise RuntimeError("the request fails after enqueuing")

    client = app.test_client()
    assert client.post("/ok").status_code == 200
    app.testing = False  # let the error become a 500 instead of propagating
    assert client.post("/fails").status_code == 500
    assert [row.job for row in rows(app)] == ["test.record"]
    assert '"label":"ok"' in rows(app)[0].message


def test_eta_and_delay(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    when = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with app.app_context():
        enqueue(record, "later", eta=when)
        before = dt.datetime.now(dt.UTC)
        enqueue(record, "soon", delay=60)
        erlen_db.session.commit()
    later, soon = rows(app)
    assert later.eta.replace(tzinfo=dt.UTC) == dt.datetime(2030, 5, 1, 10, 0, tzinfo=dt.UTC)
    assert dt.timedelta(seconds=59) < soon.eta.replace(tzinfo=dt.UTC) - before < dt.timedelta(seconds=62)
    with app.app_context():
        with pytest.raises(JobArgumentError, match="has no time zone"):
            enqueue(record, "x", eta=dt.datetime(2030, 1, 1))
        with pytest.raises(JobArgumentError, match="pass eta= or delay=, not both"):
            enqueue(record, "x", eta=when, delay=1)


def test_errors_name_the_job(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    with app.app_context():
        with pytest.raises(
            UnknownJobError, match=r"There is no job 'test.nope'. Jobs of the enabled plugins: test.boom"
        ):
            enqueue("test.nope")
        with pytest.raises(
            JobArgumentError, match=r"Job 'test.record', argument 'times': Input should be a valid integer"
        ):
            record.enqueue("a", times="many")
    with pytest.raises(TasksError, match="outside an app context needs app= and session="):
        record.enqueue("a")


@pytest.mark.parametrize("seconds", [float("nan"), float("inf")])
def test_a_nan_or_infinite_argument_is_refused_at_enqueue_with_nothing_stored(
    make_tasks_app: TasksApp, seconds: float
) -> None:
    from tasks_testplugin import slow

    app = make_tasks_app()
    with app.app_context():
        with pytest.raises(JobArgumentError, match=r"^Job 'test.slow', argument 'seconds': (nan|inf) is not a finite"):
            slow.enqueue("x", seconds=seconds, started_file="started")
        erlen_db.session.commit()
    assert rows(app) == []


def test_enqueue_on_an_explicit_session(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    with erlen_db.database_of(app).session_scope() as session:
        enqueue(record, "scoped", session=session, app=app)
    assert len(rows(app)) == 1


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("prepared", [True, False], ids=["prepared", "core"])
def test_the_row_is_written_as_the_core_insert_writes_it(
    make_tasks_app: TasksApp, monkeypatch: pytest.MonkeyPatch, prepared: bool
) -> None:
    # The prepared statement (lastrowid on SQLite, RETURNING on PostgreSQL) and the Core insert it stands
    # for, which a dialect with neither gets: the same row, every column, read back through the ORM; on
    # the session's connection, where the engine's events see it.
    from erlen_db import count_queries
    from erlen_tasks import state_of
    from erlen_tasks.outbox import PreparedInsert

    app = make_tasks_app()
    if not prepared:
        monkeypatch.setattr(PreparedInsert, "for_dialect", classmethod(lambda cls, dialect: None))
    when = dt.datetime(2030, 5, 1, 12, 0, 0, 250, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with app.app_context():
        with count_queries(app) as counter:
            first = enqueue(record, "first", eta=when)
            second = record.enqueue("second", times=3)
        assert [statement.split()[:3] for statement in counter.statements] == [["INSERT", "INTO", "tasks_jobs"]] * 2
        assert (state_of(app).prepared_insert(erlen_db.session.connection().dialect) is not None) is prepared
        assert second.id == first.id + 1
        written = {row.id: row for row in (first, second)}
        erlen_db.session.commit()
    stored = {row.id: row for row in rows(app)}
    assert sorted(stored) == sorted(written)
    columns = [column.key for column in sa.inspect(type(first)).columns]
    for row_id, row in written.items():
        for column in columns:
            value, back = getattr(row, column), getattr(stored[row_id], column)
            assert back == value, (column, back, value)  # date-times: aware on both databases
    assert stored[first.id].eta == when
