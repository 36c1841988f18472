"""The lease: short, so a dead worker's claims run out soon; renewed, so a live worker's never do."""

from __future__ import annotations

import datetime as dt
import threading
import time
import typing as t

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: the durable outbox needs it (erlen-mail[outbox])")

import sqlalchemy as sa
from outbox_helpers import assert_none_lost_none_doubled, queue_messages, rows_of
from outbox_support import SENDER, OutboxApp

import erlen_db
from erlen_mail.outbox.models import OutboxMessage, aware
from erlen_mail.outbox.worker import BatchResult, OutboxWorker
from erlen_mail.testing import ReceivedMessage, SMTPTestServer

if t.TYPE_CHECKING:
    from erlen_db.testing import MakeDbApp


def _leases(app: t.Any, ids: list[int]) -> list[dt.datetime]:
    rows = rows_of(app)
    return [t.cast(dt.datetime, aware(rows[ident].claimed_until)) for ident in ids]


def test_the_heartbeat_keeps_a_slow_batch_claimed(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    """The server holds the first message; meanwhile the worker's claims are renewed, so that past
    the claim's first lease another worker neither takes the waiting rows nor calls the first uncertain."""
    app = make_outbox_app({"MAIL_OUTBOX_LEASE_SECONDS": 1.0, "MAIL_OUTBOX_GROUP_SIZE": 1, "MAIL_SMTP_TIMEOUT": 60.0})
    queued = queue_messages(app, 3)
    holding, release = threading.Event(), threading.Event()

    def hold_first(message: ReceivedMessage) -> None:
        if len(smtp_server.messages) == 1:
            holding.set()
            release.wait(timeout=60)

    smtp_server.on_data = hold_first
    totals: list[BatchResult] = []
    worker = threading.Thread(target=lambda: totals.append(OutboxWorker(app).run(once=True)))
    worker.start()
    try:
        assert holding.wait(timeout=60), "the worker never sent the first message"
        first = _leases(app, queued)
        renewed = first
        deadline = time.monotonic() + 30  # a bound on the wait, not a timing assertion
        while not min(renewed) > max(first) and time.monotonic() < deadline:
            time.sleep(0.05)
            renewed = _leases(app, queued)
        assert min(renewed) > max(first), "the claims were never renewed"
        assert [rows_of(app)[i].status for i in queued] == ["sending", "pending", "pending"]

        # Another worker, at a moment past every first lease but within the renewed ones.
        probe = OutboxWorker(make_outbox_app(), clock=lambda: min(renewed) - dt.timedelta(microseconds=1))
        taken = probe.run_batch()
        assert (taken.claimed, taken.recovered) == (0, 0)
    finally:
        release.set()
        worker.join(timeout=60)
    assert totals and totals[0].sent == 3
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert {row.status for row in rows.values()} == {"sent"}


def test_renewal_touches_only_the_rows_the_batch_still_holds(outbox_app: t.Any) -> None:
    from erlen_mail.outbox.lease import renew

    queued = queue_messages(outbox_app, 4)
    old = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    states = [("pending", "ours"), ("sending", "ours"), ("uncertain", "ours"), ("pending", "theirs")]
    engine = erlen_db.database_of(outbox_app).engine
    table = t.cast(sa.Table, OutboxMessage.__table__)
    with engine.begin() as connection:
        for ident, (status, token) in zip(queued, states, strict=True):
            connection.execute(
                sa.update(table).where(table.c.id == ident).values(status=status, claim_token=token, claimed_until=old)
            )
    until = old + dt.timedelta(hours=1)
    assert renew(engine, "ours", until) == 2
    assert _leases(outbox_app, queued) == [until, until, old, old]


def test_the_default_lease_is_short(make_db_app: MakeDbApp) -> None:
    """A crashed worker's claimed mail waits seconds, not minutes: a claim lasts 15 s by default (was 300 s)."""
    app = make_db_app(["mail"], {"MAIL_DEFAULT_SENDER": SENDER, "MAIL_BACKEND": "null"}, create_all=True)
    queued = queue_messages(app, 2)
    now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert len(OutboxWorker(app, clock=lambda: now).claim()) == 2
    assert _leases(app, queued) == [now + dt.timedelta(seconds=15)] * 2


def test_concurrent_claims_never_overlap(make_outbox_app: OutboxApp) -> None:
    """Workers claiming at once (one statement each, returning its rows) each get up to a batch, none a row
    another got; what each claim returns is exactly what the database says it holds, oldest first."""
    app = make_outbox_app({"MAIL_OUTBOX_BATCH_SIZE": 7})
    queued = queue_messages(app, 30)
    workers = [OutboxWorker(app) for _ in range(5)]
    barrier = threading.Barrier(len(workers))
    claimed: dict[int, list[t.Any]] = {}

    def claim(index: int) -> None:
        barrier.wait(timeout=30)
        claimed[index] = workers[index].claim()

    threads = [threading.Thread(target=claim, args=(index,)) for index in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claimed) == list(range(len(workers)))
    every = [row.id for rows in claimed.values() for row in rows]
    assert len(every) == len(set(every)) == len(queued)  # 5 x 7 >= 30: all claimed, each once
    holders = {row.id: row.claim_token for row in rows_of(app).values()}
    for index, rows in claimed.items():
        assert 0 < len(rows) <= 7
        assert rows == sorted(rows, key=lambda row: (aware(row.next_attempt_at), row.id))
        assert all(row.claim_token == workers[index].token == holders[row.id] for row in rows)


# PostgreSQL only (not skipped on SQLite, but not collected there): SQLite has one writer at a time, so a
# second claim waits for the first and there is nothing to skip.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_claim_skips_rows_another_claim_holds(make_outbox_app: OutboxApp) -> None:
    """On PostgreSQL a claim in progress (its rows locked, not committed yet) does not block another: that
    one claims the next rows (SKIP LOCKED), and neither gets a row twice."""
    app = make_outbox_app({"MAIL_OUTBOX_BATCH_SIZE": 3})
    engine = erlen_db.database_of(app).engine
    assert engine.dialect.name == "postgresql"
    queued = queue_messages(app, 6)
    first, second = OutboxWorker(app), OutboxWorker(app)
    with engine.connect() as connection, connection.begin():
        held = first._claim(connection)  # locked, not committed
        taken = second.claim()  # its own transaction, committed: it would wait here without SKIP LOCKED
    assert [row.id for row in held] == queued[:3]
    assert [row.id for row in taken] == queued[3:]
    holders = {row.id: row.claim_token for row in rows_of(app).values()}
    assert [holders[ident] for ident in queued] == [first.token] * 3 + [second.token] * 3
