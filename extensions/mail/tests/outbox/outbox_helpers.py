"""Helpers of the outbox tests (imported after the erlen-db check of each module)."""

from __future__ import annotations

import typing as t
from collections import Counter

import sqlalchemy as sa
from flask import Flask

import erlen_db
from erlen_mail import Message, queue
from erlen_mail.outbox.models import OutboxMessage
from erlen_mail.testing import SMTPTestServer

#: The statuses a row may rest in ("discarded": settled by an operator): "sending" only while a worker holds it.
RESTING = {"sent", "pending", "failed", "uncertain", "discarded"}


def queue_messages(app: Flask, count: int, **fields: t.Any) -> list[int]:
    """Queue ``count`` messages and commit; their row ids."""
    with app.app_context():
        rows = [
            queue(Message(f"Message {n}", to=f"user{n}@example.com", body=f"Body {n}", **fields)) for n in range(count)
        ]
        erlen_db.session.commit()
    return [row.id for row in rows if row is not None]


def rows_of(app: Flask) -> dict[int, OutboxMessage]:
    with erlen_db.database_of(app).session_scope() as session:
        return {row.id: row for row in session.scalars(sa.select(OutboxMessage))}


def received(server: SMTPTestServer) -> Counter[str]:
    """How many times the server received each Message-ID."""
    return Counter(str(message.email["Message-ID"]) for message in server.messages)


def assert_none_lost_none_doubled(
    app: Flask, server: SMTPTestServer, queued: list[int], *, settled: bool = True
) -> dict[int, OutboxMessage]:
    """Every queued row still exists, in a resting status once ``settled`` (a dead worker's row may
    still be ``sending`` until its lease runs out); no Message-ID reached the server twice; every
    sent row reached it exactly once; pending and failed rows never did."""
    rows = rows_of(app)
    assert sorted(rows) == sorted(queued)
    allowed = RESTING if settled else RESTING | {"sending"}
    assert {row.status for row in rows.values()} <= allowed, {row.id: row.status for row in rows.values()}
    counts = received(server)
    assert all(count == 1 for count in counts.values()), counts
    for row in rows.values():
        if row.status == "sent":
            assert counts[row.message_id] == 1, row
        elif row.status in ("pending", "failed"):
            assert counts[row.message_id] == 0, row
    return rows
