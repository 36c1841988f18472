"""The mail outbox delivered by erlen-tasks' workers when both are enabled, with the outbox's guarantees.

Real SQLite and PostgreSQL, a real SMTP server (aiosmtpd), the embedded
database broker and Redis; the SIGKILL test kills a real ``erlen tasks
worker`` process while the SMTP server holds the message it is sending.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
import typing as t
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

pytest.importorskip("erlen_tasks", reason="erlen-tasks is not installed: pip install ./extensions/tasks")
pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed: pip install erlen-mail[testing]")

import sqlalchemy as sa

import erlen_db
from erlen.testing import service_unavailable
from erlen_mail import Message, queue
from erlen_mail.outbox.jobs import DELIVER_JOB, SWEEP_JOB
from erlen_mail.outbox.models import OutboxMessage, aware
from erlen_mail.testing import ReceivedMessage, SMTPTestServer
from erlen_tasks import background_worker, state_of
from erlen_tasks.models import JobRecord

if t.TYPE_CHECKING:
    from erlen_db.testing import MakeDbApp

SENDER = "Erlen <noreply@example.com>"
REDIS_URL = os.environ.get("ERLEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

MailTasksApp = Callable[..., Flask]


@pytest.fixture
def make_mail_tasks_app(make_db_app: MakeDbApp, smtp_server: SMTPTestServer) -> Iterator[MailTasksApp]:
    """Apps with db, mail and tasks on ``database_url`` sending to ``smtp_server``; the first creates the tables."""
    made: list[Flask] = []
    prefix = f"erlen-test-{uuid.uuid4().hex[:10]}-"

    def make(config: dict[str, t.Any] | None = None, plugins: tuple[str, ...] = ("mail", "tasks")) -> Flask:
        settings = {
            "MAIL_DEFAULT_SENDER": SENDER,
            "MAIL_SMTP_TIMEOUT": 5.0,
            "TASKS_POLL_SECONDS": 0.05,
            "TASKS_QUEUE_PREFIX": prefix,
            **smtp_server.config(),
            **(config or {}),
        }
        app = make_db_app(plugins, settings, create_all=not made)
        made.append(app)
        return app

    yield make
    for app in made:
        if "tasks" not in app.extensions:
            continue
        state = state_of(app)
        if state.broker_kind == "redis":
            import redis

            client = redis.Redis.from_url(app.config["TASKS_URL"])
            for key in client.scan_iter(match=f"*{prefix}*"):
                client.delete(key)
            client.close()
        state.close()


def require_redis() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1.0)
    try:
        client.ping()
    except redis.RedisError:
        service_unavailable(f"Redis not reachable at {REDIS_URL}; set ERLEN_TEST_REDIS_URL")
    finally:
        client.close()
    return REDIS_URL


def queue_messages(app: Flask, count: int) -> list[int]:
    """Queue ``count`` messages in one transaction and commit it; their row ids."""
    with app.app_context():
        rows = [queue(Message(f"Message {n}", to=f"user{n}@example.com", body=f"Body {n}")) for n in range(count)]
        erlen_db.session.commit()
    return [row.id for row in rows if row is not None]


def outbox_rows(app: Flask) -> list[OutboxMessage]:
    with erlen_db.database_of(app).session_scope() as session:
        rows = list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
        return rows


def job_rows(app: Flask) -> list[JobRecord]:
    with erlen_db.database_of(app).session_scope() as session:
        rows = list(session.scalars(sa.select(JobRecord).order_by(JobRecord.id)))
        session.expunge_all()
        return rows


def received(server: SMTPTestServer) -> Counter[str]:
    """How many times the server received each Message-ID."""
    return Counter(str(message.email["Message-ID"]) for message in server.messages)


def wait_for(condition: Callable[[], t.Any], *, timeout: float = 30.0, what: str = "the condition") -> t.Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    return value


@pytest.mark.parametrize("broker", ["database", "redis"])
def test_mail_queued_in_a_request_is_delivered_by_the_tasks_worker(
    make_mail_tasks_app: MailTasksApp, smtp_server: SMTPTestServer, broker: str
) -> None:
    config: dict[str, t.Any] = {"TASKS_BROKER": broker}
    if broker == "redis":
        config["TASKS_URL"] = require_redis()
    app = make_mail_tasks_app(config)

    @app.post("/invite")
    def invite() -> str:
        for n in range(3):
            queue(Message(f"Invitation {n}", to=f"guest{n}@example.com", body="Come along"))
        erlen_db.session.commit()
        return "queued"

    assert app.test_client().post("/invite").status_code == 200
    # One delivery job for the request's three messages, committed with them.
    assert [row.job for row in job_rows(app)] == [DELIVER_JOB]
    assert smtp_server.messages == []
    with background_worker(app, scheduler=False):
        wait_for(lambda: {row.status for row in outbox_rows(app)} == {"sent"}, what="the three messages sent")
        wait_for(lambda: {row.status for row in job_rows(app)} == {"done"}, what="the delivery job done")
    assert sorted(m.email["Subject"] for m in smtp_server.messages) == [f"Invitation {n}" for n in range(3)]
    assert set(received(smtp_server).values()) == {1}


def test_a_rolled_back_transaction_leaves_neither_mail_nor_job(make_mail_tasks_app: MailTasksApp) -> None:
    app = make_mail_tasks_app()
    with app.app_context():
        queue(Message("Never", to="nobody@example.com", body="Rolled back"))
        assert [row.job for row in job_rows(app)] == []  # not committed: no other connection sees it
        erlen_db.session.rollback()
    assert outbox_rows(app) == [] and job_rows(app) == []


def test_a_job_in_a_rolled_back_savepoint_is_replaced(make_mail_tasks_app: MailTasksApp) -> None:
    app = make_mail_tasks_app()
    with app.app_context():
        with erlen_db.session.begin_nested() as savepoint:
            queue(Message("Dropped", to="a@example.com", body="In the savepoint"))
            savepoint.rollback()
        queue(Message("Kept", to="b@example.com", body="After it"))
        queue(Message("Kept too", to="c@example.com", body="After it"))
        erlen_db.session.commit()
    assert [row.subject for row in outbox_rows(app)] == ["Kept", "Kept too"]
    assert [row.job for row in job_rows(app)] == [DELIVER_JOB]  # the savepoint's went with it; one for the rest


def test_each_transaction_enqueues_its_own_job(make_mail_tasks_app: MailTasksApp) -> None:
    app = make_mail_tasks_app()
    queue_messages(app, 2)
    queue_messages(app, 1)
    assert [row.job for row in job_rows(app)] == [DELIVER_JOB, DELIVER_JOB]


def test_smtp_down_the_message_waits_and_a_later_run_delivers_it_once(
    make_mail_tasks_app: MailTasksApp, smtp_server: SMTPTestServer
) -> None:
    app = make_mail_tasks_app({"MAIL_OUTBOX_BACKOFF_SECONDS": 1.0})
    smtp_server.stop()
    [ident] = queue_messages(app, 1)
    with background_worker(app, scheduler=False):
        wait_for(lambda: {row.status for row in job_rows(app)} == {"done"}, what="the delivery job done")
    [row] = outbox_rows(app)
    assert (row.id, row.status, row.attempts) == (ident, "pending", 1)
    assert "Could not connect" in (row.last_error or "")

    smtp_server.start()  # the same port
    retry_at = t.cast(dt.datetime, aware(row.next_attempt_at))
    wait_for(lambda: dt.datetime.now(dt.UTC) > retry_at, what="the retry to be due")
    # The periodic sweep (enqueued by the scheduler at once, for the current minute) sends the retry.
    with background_worker(app):
        wait_for(lambda: outbox_rows(app)[0].status == "sent", what="the retry sent")
        wait_for(lambda: any(r.job == SWEEP_JOB and r.status == "done" for r in job_rows(app)), what="the sweep")
    [row] = outbox_rows(app)
    assert row.attempts == 2
    assert received(smtp_server) == {row.message_id: 1}
    # Later runs find nothing to send: never twice.
    with app.app_context():
        from erlen_tasks import enqueue

        enqueue(SWEEP_JOB)
        erlen_db.session.commit()
    with background_worker(app, scheduler=False):
        wait_for(lambda: all(r.status == "done" for r in job_rows(app)), what="the second sweep")
    assert received(smtp_server) == {row.message_id: 1}


def test_with_tasks_the_opt_out_keeps_the_mail_worker(
    make_mail_tasks_app: MailTasksApp, smtp_server: SMTPTestServer
) -> None:
    app = make_mail_tasks_app({"MAIL_OUTBOX_WITH_TASKS": False})
    queue_messages(app, 2)
    assert job_rows(app) == []
    result = app.test_cli_runner().invoke(args=["mail", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "2 sent" in result.output
    assert len(smtp_server.messages) == 2


def test_without_tasks_the_mail_worker_delivers(make_mail_tasks_app: MailTasksApp, smtp_server: SMTPTestServer) -> None:
    app = make_mail_tasks_app(plugins=("mail",))
    queue_messages(app, 1)
    with erlen_db.database_of(app).engine.connect() as connection:
        assert not sa.inspect(connection).has_table(JobRecord.__tablename__)  # tasks is not enabled
    result = app.test_cli_runner().invoke(args=["mail", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output
    assert [row.status for row in outbox_rows(app)] == ["sent"]


def test_a_tasks_worker_killed_mid_delivery_leaves_the_message_uncertain(
    make_mail_tasks_app: MailTasksApp, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    """SIGKILL while the server holds the first of two messages: that one becomes uncertain (the server
    may have accepted it) and is never sent again; the other, claimed by the dead worker but never
    handed over, is sent by the next worker once the leases have run out."""
    lease = {"MAIL_OUTBOX_LEASE_SECONDS": 2.0, "TASKS_LEASE_SECONDS": 2.0}
    app = make_mail_tasks_app(lease)
    first, second = queue_messages(app, 2)
    config = {
        "PLUGINS": ["db", "mail", "tasks"],
        "DB_URL": app.config["DB_URL"],
        "MAIL_DEFAULT_SENDER": SENDER,
        "TASKS_QUEUE_PREFIX": app.config["TASKS_QUEUE_PREFIX"],
        "TASKS_POLL_SECONDS": 0.1,
        **lease,
        **smtp_server.config(),
    }
    (tmp_path / "worker_app.py").write_text(
        f"from erlen import create_app\napp = create_app(__name__, {config!r})\n", encoding="utf-8"
    )
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "erlen", "--app", "worker_app:app", "tasks", "worker", "--no-scheduler"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    killed = threading.Event()

    def kill_on_first(message: ReceivedMessage) -> None:
        if not killed.is_set():
            process.kill()  # SIGKILL: the worker dies before it hears the server's 250
            process.wait(timeout=30)
            killed.set()

    smtp_server.on_data = kill_on_first
    try:
        assert killed.wait(timeout=60), "the tasks worker never delivered a message"
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate(timeout=30)[0]
    smtp_server.on_data = None
    assert process.returncode == -9, output
    rows = {row.id: row for row in outbox_rows(app)}
    assert (rows[first].status, rows[second].status) == ("sending", "pending")
    assert [row.status for row in job_rows(app)] == ["running"]  # the job's own lease runs out too

    # Once the dead worker's leases have run out, another tasks worker runs the job again: the interrupted
    # message becomes uncertain, the other is sent.
    lease_end = max(t.cast(dt.datetime, aware(row.claimed_until)) for row in rows.values())
    wait_for(lambda: dt.datetime.now(dt.UTC) > lease_end, what="the mail lease to run out")
    with background_worker(app, scheduler=False):
        wait_for(lambda: {row.status for row in job_rows(app)} == {"done"}, what="the job run again")
    rows = {row.id: row for row in outbox_rows(app)}
    assert (rows[first].status, rows[second].status) == ("uncertain", "sent")
    assert "may have accepted it" in (rows[first].last_error or "")
    assert received(smtp_server) == {rows[first].message_id: 1, rows[second].message_id: 1}
