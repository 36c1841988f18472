"""The worker's records of runs relayed to Redis or RabbitMQ: folded per message, written a batch at a time."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import dramatiq
import pytest
import sqlalchemy as sa
from conftest import TasksApp
from dramatiq.broker import MessageProxy
from flask import Flask
from tasks_support import rows
from tasks_testplugin import record

import erlen_db
from erlen_tasks.brokers import Tracking
from erlen_tasks.brokers.tracking import PreparedUpdate
from erlen_tasks.models import DONE, FAILED, RELAYED, RUNNING, JobRecord


def committed_messages(app: Flask, count: int) -> list[MessageProxy]:
    """``count`` committed jobs, as the worker gets them from the broker."""
    with app.app_context():
        found = [record.enqueue(f"job{n}") for n in range(count)]
        erlen_db.session.commit()
        return [MessageProxy(dramatiq.Message.decode(row.message.encode())) for row in found]


def executions(engine: sa.Engine) -> list[int]:
    """Listens to ``engine``: the number of parameter sets of each statement it sends afterwards."""
    sent: list[int] = []

    def count(conn: t.Any, cursor: t.Any, statement: str, parameters: t.Any, context: t.Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            sent.append(len(parameters) if many else 1)

    sa.event.listen(engine, "before_cursor_execute", count)
    return sent


def by_message(app: Flask) -> dict[str, JobRecord]:
    """The job rows, by their message's id."""
    return {json.loads(row.message)["message_id"]: row for row in rows(app)}


def test_a_batch_is_one_update_per_message_in_two_statements(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    engine = erlen_db.database_of(app).engine
    messages = committed_messages(app, 20)
    tracking = Tracking(engine)
    sent = executions(engine)
    try:
        for message in messages:  # each run starts and ends between two writes
            tracking.before_process_message(t.cast(t.Any, None), message)
            tracking.after_process_message(t.cast(t.Any, None), message)
        tracking.flush()
    finally:
        tracking.close()
    # Two prepared statements at most (with and without last_error), one row update per message in them:
    # not a statement per record (40 here).
    assert len(sent) <= 2
    assert sum(sent) == 20
    found = by_message(app)
    for message in messages:
        row = found[message.message_id]
        assert (row.status, row.attempts, row.last_error) == (DONE, 1, None)


def test_the_records_of_one_message_fold_in_order(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    retried, failing, running = committed_messages(app, 3)
    tracking = Tracking(erlen_db.database_of(app).engine)
    try:
        # A try that fails then one that succeeds, between two writes: two attempts, done, no error left.
        tracking.before_process_message(t.cast(t.Any, None), retried)
        tracking.after_process_message(t.cast(t.Any, None), retried, exception=RuntimeError("first try"))
        tracking.before_process_message(t.cast(t.Any, None), retried)
        tracking.after_process_message(t.cast(t.Any, None), retried)
        # A failed try: its error is kept by a later record that does not write one (a skip).
        tracking.before_process_message(t.cast(t.Any, None), failing)
        tracking.after_process_message(t.cast(t.Any, None), failing, exception=RuntimeError("broken"))
        # A run under way at the write.
        tracking.before_process_message(t.cast(t.Any, None), running)
        tracking.flush()
        found = by_message(app)
        assert (found[retried.message_id].status, found[retried.message_id].attempts) == (DONE, 2)
        assert found[retried.message_id].last_error is None
        assert (found[failing.message_id].status, found[failing.message_id].attempts) == (FAILED, 1)
        assert found[failing.message_id].last_error == "RuntimeError: broken"
        assert (found[running.message_id].status, found[running.message_id].attempts) == (RUNNING, 1)

        tracking.after_skip_message(t.cast(t.Any, None), failing)
        tracking.after_process_message(t.cast(t.Any, None), running)
        tracking.flush()
        found = by_message(app)
        assert (found[failing.message_id].status, found[failing.message_id].attempts) == (DONE, 1)
        assert found[failing.message_id].last_error == "RuntimeError: broken"
        assert (found[running.message_id].status, found[running.message_id].attempts) == (DONE, 1)
    finally:
        tracking.close()


def test_records_wait_for_the_database_and_fold_with_later_ones(make_tasks_app: TasksApp, tmp_path: Path) -> None:
    app = make_tasks_app()
    [message] = committed_messages(app, 1)
    away = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}")  # a directory that does not exist
    tracking = Tracking(away)
    try:
        tracking.before_process_message(t.cast(t.Any, None), message)
        tracking.after_process_message(t.cast(t.Any, None), message, exception=RuntimeError("first try"))
        tracking.flush()  # fails: kept
        assert by_message(app)[message.message_id].status not in (FAILED, DONE)
        tracking.before_process_message(t.cast(t.Any, None), message)
        tracking.engine = erlen_db.database_of(app).engine  # the database is back
        tracking.flush()
        row = by_message(app)[message.message_id]
        assert (row.status, row.attempts, row.last_error) == (RUNNING, 2, "RuntimeError: first try")
    finally:
        tracking.close()
        away.dispose()


def test_a_record_for_an_unknown_message_changes_nothing(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    messages = committed_messages(app, 1)
    with erlen_db.database_of(app).engine.begin() as connection:
        connection.execute(sa.update(JobRecord).values(status=RELAYED))
    tracking = Tracking(erlen_db.database_of(app).engine)
    try:
        stranger = MessageProxy(
            dramatiq.Message(queue_name="q", actor_name="test.record", args=(), kwargs={}, options={})
        )
        tracking.before_process_message(t.cast(t.Any, None), stranger)
        tracking.flush()
    finally:
        tracking.close()
    assert by_message(app)[messages[0].message_id].status == RELAYED


def test_a_dialect_without_the_prepared_statements_gets_cores(
    make_tasks_app: TasksApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A dialect rendering parameters of its own makes PreparedUpdate.for_dialect decline: the batch goes
    # through Core's statements, with the same rows written.
    monkeypatch.setattr(PreparedUpdate, "for_dialect", classmethod(lambda cls, statement, names, dialect: None))
    app = make_tasks_app()
    engine = erlen_db.database_of(app).engine
    done, failing, running = committed_messages(app, 3)
    tracking = Tracking(engine)
    sent = executions(engine)
    try:
        tracking.before_process_message(t.cast(t.Any, None), done)
        tracking.after_process_message(t.cast(t.Any, None), done)
        tracking.before_process_message(t.cast(t.Any, None), failing)
        tracking.after_process_message(t.cast(t.Any, None), failing, exception=RuntimeError("broken"))
        tracking.before_process_message(t.cast(t.Any, None), running)
        tracking.flush()
    finally:
        tracking.after_process_message(t.cast(t.Any, None), running)
        tracking.close()
    assert sum(sent) == 4  # three at the first write, the last run's end at the close
    found = by_message(app)
    assert (found[done.message_id].status, found[done.message_id].attempts) == (DONE, 1)
    assert (found[failing.message_id].status, found[failing.message_id].last_error) == (FAILED, "RuntimeError: broken")
    assert (found[running.message_id].status, found[running.message_id].attempts) == (DONE, 1)


def test_a_retry_starting_before_the_failed_runs_hooks_end_keeps_both_attempts(make_tasks_app: TasksApp) -> None:
    """A retry's delay (a backoff of 50 ms) can end, and another worker thread start the retry, before the failed
    run's thread has reached this middleware's after-hook (Retries, which sends the retry, runs before it). Runs
    were kept by message id, which a retry shares: the retry's start replaced the failed run's, the failed run's
    end took it, and the retry's end found none. A job tried three times was recorded done with 2 attempts (a CI
    run on RabbitMQ); when the retry also ended first, the late failure made a done job's row "failed"."""
    app = make_tasks_app()
    overtaken, overtaken_and_outrun = committed_messages(app, 2)
    tracking = Tracking(erlen_db.database_of(app).engine)
    no_broker = t.cast(t.Any, None)
    try:
        for message in (overtaken, overtaken_and_outrun):
            failed_run, retry = message, MessageProxy(message._message)  # each delivery has a proxy of its own
            tracking.before_process_message(no_broker, failed_run)
            tracking.before_process_message(no_broker, retry)
            if message is overtaken:
                tracking.after_process_message(no_broker, failed_run, exception=RuntimeError("first try"))
                tracking.after_process_message(no_broker, retry)
            else:
                tracking.after_process_message(no_broker, retry)
                tracking.after_process_message(no_broker, failed_run, exception=RuntimeError("first try"))
        tracking.flush()
        found = by_message(app)
        for message in (overtaken, overtaken_and_outrun):
            assert (found[message.message_id].status, found[message.message_id].attempts) == (DONE, 2)
        assert found[overtaken.message_id].last_error is None

        # The same across two writes: the retry's run written first, the failed run's end in the next batch.
        [late] = committed_messages(app, 1)
        retry = MessageProxy(late._message)
        tracking.before_process_message(no_broker, late)
        tracking.before_process_message(no_broker, retry)
        tracking.after_process_message(no_broker, retry)
        tracking.flush()
        tracking.after_process_message(no_broker, late, exception=RuntimeError("first try"))
        tracking.flush()
        row = by_message(app)[late.message_id]
        assert (row.status, row.attempts) == (DONE, 2)
    finally:
        tracking.close()
