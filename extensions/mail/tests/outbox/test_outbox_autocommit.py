"""The outbox under the engine's ``AUTOCOMMIT`` isolation level (``DB_ENGINE_OPTIONS``), where each statement
commits as it runs: the worker's guarantee holds, and ``queue()`` commits at once (outside the caller's
transaction) unless its session is on a connection whose transactions hold."""

from __future__ import annotations

import threading
import typing as t

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: the durable outbox needs it (erlen-mail[outbox])")

import sqlalchemy as sa
from outbox_helpers import assert_none_lost_none_doubled, queue_messages, received, rows_of
from outbox_support import Clock, OutboxApp
from sqlalchemy.orm import Session

import erlen_db
from erlen_mail import Message, queue
from erlen_mail.outbox.models import OutboxMessage
from erlen_mail.outbox.worker import OutboxWorker
from erlen_mail.testing import SMTPTestServer

AUTOCOMMIT = {"DB_ENGINE_OPTIONS": {"isolation_level": "AUTOCOMMIT"}}

ENGINE_OPTIONS = pytest.mark.parametrize(
    "engine_options", [{}, {"isolation_level": "AUTOCOMMIT"}], ids=["default", "autocommit"]
)


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing handles it."""


def commits_each_statement(app: t.Any) -> bool:
    """Whether a statement of the app's engine stays when its ``engine.begin()`` block is rolled back."""
    engine = erlen_db.database_of(app).engine
    with pytest.raises(ZeroDivisionError), engine.begin() as connection:
        connection.execute(sa.update(OutboxMessage).values(subject=OutboxMessage.subject + "!"))
        1 / 0  # noqa: B018
    with engine.connect() as connection:
        subjects = set(connection.scalars(sa.select(OutboxMessage.subject)))
    with engine.begin() as connection:  # put them back
        connection.execute(sa.update(OutboxMessage).values(subject=sa.func.replace(OutboxMessage.subject, "!", "")))
    return all(subject.endswith("!") for subject in subjects)


@ENGINE_OPTIONS
def test_a_crash_between_any_two_statements_loses_nothing_and_sends_nothing_twice(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, clock: Clock, engine_options: dict[str, t.Any]
) -> None:
    """The worker dies before each of its statements in turn (those of its commits with several: outcomes
    and a group's mark, outcomes and the release), on one batch whose groups have refusals to record; after
    the lease, every message is sent once, failed (never sent) or uncertain (the open group), none twice.

    Under ``AUTOCOMMIT`` the statements before the crash are committed where a transaction would have rolled
    them back: each records its rows' outcome on its own, so what it leaves is another state the worker can
    crash in anyway (a group recorded, the next not marked yet)."""
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 2, "DB_ENGINE_OPTIONS": engine_options})
    engine = erlen_db.database_of(app).engine
    smtp_server.refuse = {"user1@example.com", "user3@example.com"}  # failures: outcomes of their own
    statements = 0
    crash_at: int | None = None

    def count(*args: t.Any) -> None:
        nonlocal statements
        if threading.current_thread().name.startswith("erlen-mail-lease-"):
            return  # the heartbeat's renewals (none in so short a batch, were the lease to come round)
        statements += 1
        if statements == crash_at:
            raise Crash(statements)

    sa.event.listen(engine, "before_cursor_execute", count)
    crashes = 0
    try:
        for point in range(1, 40):  # bounded: a batch of five messages runs far fewer statements
            with engine.begin() as connection:
                connection.execute(sa.delete(OutboxMessage))
            smtp_server.messages.clear()
            queued = queue_messages(app, 5)  # groups [0], [1, 2], [3, 4]
            if point == 1:
                assert commits_each_statement(app) is bool(engine_options)
            statements, crash_at = 0, point
            try:
                OutboxWorker(app, clock=clock).run_batch()
            except Crash:
                crashes += 1
            else:
                break  # the batch ran fewer statements than that: each had its crash
            finally:
                crash_at = None
            clock.advance(61)  # past the lease: another worker recovers and sends what is due
            OutboxWorker(app, clock=clock).run(once=True)
            clock.advance(3600)
            OutboxWorker(app, clock=clock).run(once=True)
            rows = assert_none_lost_none_doubled(app, smtp_server, queued)
            statuses = [rows[i].status for i in queued]
            # Refused: failed, or uncertain when the crash left its group open; the others sent or uncertain.
            assert statuses[1] in ("failed", "uncertain") and statuses[3] in ("failed", "uncertain"), (point, statuses)
            assert all(statuses[index] in ("sent", "uncertain") for index in (0, 2, 4)), (point, statuses)
            assert statuses.count("uncertain") <= 2, (point, statuses)  # at most the open group
            assert all(row.claim_token is None for row in rows.values())
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert crashes >= 8  # every statement of the batch: recover, claim, three marks, the outcomes, the release
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert [rows[i].status for i in queued] == ["sent", "failed", "sent", "failed", "sent"]


@ENGINE_OPTIONS
def test_queue_commits_at_once_under_autocommit(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, engine_options: dict[str, t.Any]
) -> None:
    """Under ``AUTOCOMMIT`` the caller has no transaction: the row is committed when ``queue()`` flushes it,
    and the caller's rollback does not take it back. Under the default level it does."""
    app = make_outbox_app({"DB_ENGINE_OPTIONS": engine_options})
    with app.app_context():
        queue(Message("Order placed", to="ada@example.com", body="Thanks"))
        erlen_db.session.rollback()
    delivered = OutboxWorker(app).run(once=True).sent
    assert delivered == (1 if engine_options else 0)
    assert len(smtp_server.messages) == delivered


def test_queue_into_a_session_whose_transactions_hold_under_autocommit(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer
) -> None:
    """The README's way to keep the outbox transactional under ``AUTOCOMMIT``: a session on
    ``erlen_db.connect_with_transactions``; its rollback discards the message, its commit delivers it."""
    app = make_outbox_app(AUTOCOMMIT)
    with (
        app.app_context(),
        erlen_db.connect_with_transactions(erlen_db.database_of()) as connection,
        Session(bind=connection) as session,
    ):
        queue(Message("Rolled back", to="ada@example.com", body="Never sent"), session=session)
        session.rollback()
        queue(Message("Committed", to="ada@example.com", body="Sent"), session=session)
        session.commit()
    assert OutboxWorker(app).run(once=True).sent == 1
    assert [message.email["Subject"] for message in smtp_server.messages] == ["Committed"]
    assert [row.subject for row in rows_of(app).values()] == ["Committed"]
    assert sum(received(smtp_server).values()) == 1


def test_workers_at_once_under_autocommit(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    """Three workers deliver one queue at the same time, every statement its own transaction: each message
    is claimed by one of them and sent once."""
    app = make_outbox_app({"MAIL_OUTBOX_BATCH_SIZE": 7, "MAIL_OUTBOX_GROUP_SIZE": 3, **AUTOCOMMIT})
    queued = queue_messages(app, 40)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait(timeout=30)
            OutboxWorker(app).run(once=True)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and not any(thread.is_alive() for thread in threads)
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert {row.status for row in rows.values()} == {"sent"} and len(smtp_server.messages) == 40
