"""The outbox worker through database outages, under the default isolation level and under ``AUTOCOMMIT``:
each outage is logged once as a warning (not once per try), each recovery once as an info line."""

from __future__ import annotations

import logging
import threading
import time
import typing as t
from collections.abc import Callable

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: the durable outbox needs it (erlen-mail[outbox])")

import sqlalchemy as sa
from outbox_helpers import queue_messages, rows_of
from outbox_support import OutboxApp

import erlen_db
from erlen_db.testing import PostgresServer
from erlen_mail.outbox.worker import OutboxWorker
from erlen_mail.testing import SMTPTestServer


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> str:
    """The apps' database: a PostgreSQL server of the test's own, which the tests stop and start again."""
    return postgres_server.url + "?connect_timeout=2"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@pytest.mark.parametrize("isolation_level", [None, "AUTOCOMMIT"], ids=["default", "autocommit"])
def test_each_outage_is_one_warning_and_each_recovery_one_info_line(
    make_outbox_app: OutboxApp,
    smtp_server: SMTPTestServer,
    postgres_server: PostgresServer,
    caplog: pytest.LogCaptureFixture,
    isolation_level: str | None,
) -> None:
    """Two outages: the server stopped while the worker waits (its next connection fails), then, after the
    worker recovered, stopped during a claim. Each is one warning however many tries fail, and its end one
    info line; the messages queued around them are each delivered once."""
    options = {"isolation_level": isolation_level} if isolation_level else {}
    app = make_outbox_app({"DB_ENGINE_OPTIONS": options})
    engine = erlen_db.database_of(app).engine
    caplog.set_level(logging.DEBUG, logger="erlen_mail")

    def lines(level: int) -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "erlen_mail" and r.levelno == level]

    def errors_since(start: int) -> int:
        return sum("database error again" in message for message in lines(logging.DEBUG)[start:])

    stop = threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            OutboxWorker(app).run(poll=0.02, stop=stop)
        except BaseException as exc:  # reported in the test's thread
            failed.append(exc)

    claims = 0
    stop_at_claim = threading.Event()

    def on_execute(conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        nonlocal claims
        if "MATERIALIZED" in statement:  # the claim's statement
            claims += 1
            if stop_at_claim.is_set():
                stop_at_claim.clear()
                postgres_server.stop()  # the claim is sent to a server that is gone

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    thread = threading.Thread(target=run, name="outbox-worker")
    thread.start()
    try:
        queue_messages(app, 1)
        wait_for(lambda: len(smtp_server.messages) == 1, "the first message")

        # Outage 1: the worker's next batch cannot connect, and again at each try.
        postgres_server.stop()
        wait_for(lambda: errors_since(0) >= 3, "several failed tries")
        assert len(lines(logging.WARNING)) == 1
        postgres_server.start_again()
        wait_for(lambda: len(lines(logging.INFO)) == 1, "the recovery's line")

        # Outage 2: the database fails during a claim, after the worker recovered.
        seen = claims
        wait_for(lambda: claims > seen + 1, "batches after the recovery")
        debug_lines = len(lines(logging.DEBUG))
        stop_at_claim.set()
        wait_for(lambda: not postgres_server.running, "the stop during a claim")
        wait_for(lambda: errors_since(debug_lines) >= 3, "several failed tries")
        assert len(lines(logging.WARNING)) == 2, lines(logging.WARNING)
        postgres_server.start_again()
        wait_for(lambda: len(lines(logging.INFO)) == 2, "the second recovery's line")
        queue_messages(app, 1)
        wait_for(lambda: len(smtp_server.messages) == 2, "the second message")
    finally:
        stop.set()
        thread.join(timeout=60)
        sa.event.remove(engine, "before_cursor_execute", on_execute)
    assert not failed and not thread.is_alive()
    warnings, infos = lines(logging.WARNING), lines(logging.INFO)
    assert len(warnings) == 2 and all(w.startswith("Mail outbox: database error, trying again") for w in warnings)
    assert len(infos) == 2 and all(i.startswith("Mail outbox: the database answers again") for i in infos)
    assert not lines(logging.ERROR)
    assert {row.status for row in rows_of(app).values()} == {"sent"}


def test_closing_the_marks_writer_after_its_connection_was_lost_does_not_connect_again(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer's connection dropped by the server (SQLAlchemy invalidated it): closing it logs the lost
    connection at DEBUG, and neither connects to the database again (down: a connection error raised by the
    close, or the connect timeout waited for) nor raises."""
    from erlen_mail.outbox.marks import MarkWriter

    engine = sa.create_engine(postgres_server.url + "?connect_timeout=2")
    connects: list[object] = []
    sa.event.listen(engine, "connect", lambda connection, record: connects.append(connection))
    caplog.set_level(logging.DEBUG, logger="erlen_mail")
    try:
        writer = MarkWriter(engine, threading.local(), threaded=False, own_connection=True, durable=False)
        with writer:
            connection = writer.connection
            assert connection is not None
            connection.execute(sa.text("SELECT 1"))
            postgres_server.kill()
            with pytest.raises(sa.exc.OperationalError):
                connection.execute(sa.text("SELECT 1"))
            assert connection.invalidated
        assert len(connects) == 1
        assert [r.levelno for r in caplog.records if "could not restore" in r.getMessage()] == [logging.DEBUG]
    finally:
        engine.dispose()
