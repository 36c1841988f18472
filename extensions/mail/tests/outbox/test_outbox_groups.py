"""The worker commits per group of messages, and each message of a group still gets its own outcome."""

from __future__ import annotations

import threading
import typing as t

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: the durable outbox needs it (erlen-mail[outbox])")

import sqlalchemy as sa
from outbox_helpers import assert_none_lost_none_doubled, queue_messages, received, rows_of
from outbox_support import Clock, OutboxApp

import erlen_db
from erlen_mail.outbox.marks import MarkWriter
from erlen_mail.outbox.models import OutboxMessage
from erlen_mail.outbox.worker import GroupRecord, OutboxWorker
from erlen_mail.testing import ReceivedMessage, SMTPTestServer


def test_commits_per_group_not_per_message(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 10})
    queued = queue_messages(app, 40)
    commits: list[object] = []
    engine = erlen_db.database_of(app).engine

    def count(connection: object) -> None:
        commits.append(connection)

    sa.event.listen(engine, "commit", count)
    try:
        assert OutboxWorker(app).run(once=True).sent == 40
    finally:
        sa.event.remove(engine, "commit", count)
    # One batch: recover and claim (one commit), one commit per group (1, 2, 4, 8, 10, 10, 5), and the
    # last group's outcome with the release; then the empty batch that ends --once: recover and claim.
    # Two per message before groups: 80 and more.
    assert len(commits) == 1 + 7 + 1 + 1
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert {row.status for row in rows.values()} == {"sent"}
    assert all(row.attempts == 1 and row.claim_token is None and row.sent_at is not None for row in rows.values())


def test_a_refusal_fails_only_its_own_message(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 5})
    smtp_server.refuse = {"user2@example.com"}
    queued = queue_messages(app, 5)
    totals = OutboxWorker(app).run(once=True)
    assert (totals.sent, totals.failed) == (4, 1)
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert [rows[i].status for i in queued] == ["sent", "sent", "failed", "sent", "sent"]
    assert "550" in (rows[queued[2]].last_error or "")
    assert smtp_server.connections_used == 1  # a refusal keeps the connection


def test_a_connection_dropped_mid_group(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    """The server keeps the third message but hangs up before answering: that one is uncertain,
    those before it sent, those after it sent over a new connection."""
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 5})
    queued = queue_messages(app, 5)

    def hang_up_on_third(message: ReceivedMessage) -> None:
        smtp_server.hang_up_after_data = len(smtp_server.messages) == 3

    smtp_server.on_data = hang_up_on_third
    totals = OutboxWorker(app).run(once=True)
    assert (totals.sent, totals.uncertain, totals.retrying) == (4, 1, 0)
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert [rows[i].status for i in queued] == ["sent", "sent", "uncertain", "sent", "sent"]
    assert "before the server answered" in (rows[queued[2]].last_error or "")
    assert sum(received(smtp_server).values()) == 5 and smtp_server.connections_used == 2


def test_temporary_refusals_mid_group_are_retried_alone(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer
) -> None:
    """The server accepts the first message, then answers 451 (nothing delivered): the others are retried."""
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 3})
    queued = queue_messages(app, 3)

    def refuse_after_first(message: ReceivedMessage) -> None:
        smtp_server.data_reply = "451 4.3.0 Try again later"

    smtp_server.on_data = refuse_after_first
    totals = OutboxWorker(app).run(once=True)
    assert (totals.sent, totals.retrying) == (1, 2)
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert [rows[i].status for i in queued] == ["sent", "pending", "pending"]
    for ident in queued[1:]:
        assert rows[ident].attempts == 1 and rows[ident].claim_token is None
        assert "451" in (rows[ident].last_error or "")


def test_groups_start_alone_and_double(make_outbox_app: OutboxApp) -> None:
    """A batch's first message goes alone, each group doubles the one before up to MAIL_OUTBOX_GROUP_SIZE:
    a shallow queue is sent a message per commit, a deep one in full groups."""
    app = make_outbox_app()
    assert app.config["MAIL_OUTBOX_GROUP_SIZE"] == 10  # the default
    sizes = OutboxWorker(app).group_sizes
    assert sizes(0) == []
    assert sizes(1) == [1]
    assert sizes(3) == [1, 2]
    assert sizes(4) == [1, 2, 1]
    assert sizes(40) == [1, 2, 4, 8, 10, 10, 5]
    assert sizes(100) == [1, 2, 4, 8, *[10] * 8, 5]
    assert OutboxWorker(app, group_size=1).group_sizes(3) == [1, 1, 1]
    assert OutboxWorker(app, group_size=3).group_sizes(9) == [1, 2, 3, 3]


class SizeRecordingWorker(OutboxWorker):
    """Notes the size of each group it marks ``sending``."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.marked: list[int] = []

    def mark_sending(self, group: t.Sequence[sa.Row[t.Any]], *, after: GroupRecord | None = None) -> set[int]:
        self.marked.append(len(group))
        return super().mark_sending(group, after=after)


def test_groups_go_on_growing_after_a_full_batch(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    """A full batch means a deep queue: the next batch's groups start where the batch before left off,
    not at 1 again. A batch that is not full, or a new run, starts at 1."""
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 4, "MAIL_OUTBOX_BATCH_SIZE": 10})
    queued = queue_messages(app, 25)
    worker = SizeRecordingWorker(app)
    assert worker.run(once=True).sent == 25
    # 10 (full): 1, 2, 4, 3; 10 (full, after a full one): 4, 4, 2; 5 (after a full one): 4, 1.
    assert worker.marked == [1, 2, 4, 3, 4, 4, 2, 4, 1]
    assert_none_lost_none_doubled(app, smtp_server, queued)

    more = queue_messages(app, 3)
    worker.marked.clear()
    assert worker.run(once=True).sent == 3
    assert worker.marked == [1, 2]  # a new run: a shallow batch starts alone
    assert worker.group_sizes(12, start=4) == [4, 4, 4]
    assert worker.group_sizes(12, start=40) == [4, 4, 4]  # never more than MAIL_OUTBOX_GROUP_SIZE
    assert_none_lost_none_doubled(app, smtp_server, [*queued, *more])


def test_a_batch_not_delivered_whole_starts_the_next_at_one(make_outbox_app: OutboxApp) -> None:
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 4, "MAIL_OUTBOX_BATCH_SIZE": 10})
    queue_messages(app, 30)
    worker = SizeRecordingWorker(app)
    stop = threading.Event()
    worker.run_batch(stop)  # full and whole: the next goes on
    assert worker.first_group_size == 4
    stop.set()
    worker.run_batch(stop)  # stopped before its first group: nothing handed over
    assert worker.first_group_size == 1
    stop.clear()
    worker.marked.clear()
    worker.run_batch(stop)
    assert worker.marked == [1, 2, 4, 3]


class WriterCountingWorker(OutboxWorker):
    """Counts the marks' writers it makes."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.writers = 0

    def _new_writer(self) -> MarkWriter:
        self.writers += 1
        return super()._new_writer()


def _marks_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("erlen-mail-marks")]


def test_one_writer_for_consecutive_batches(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    """run() keeps the marks' writer (its thread and connection) from one batch to the next while there
    is work, and closes it when it stops; a batch run alone has its own."""
    app = make_outbox_app({"MAIL_OUTBOX_BATCH_SIZE": 10})
    queued = queue_messages(app, 25)
    worker = WriterCountingWorker(app)
    assert worker.run(once=True).sent == 25  # three batches, then the empty claim
    assert worker.writers == 1
    assert not _marks_threads()
    assert_none_lost_none_doubled(app, smtp_server, queued)

    more = queue_messages(app, 2)
    assert worker.run_batch().sent == 2
    assert worker.writers == 2 and not _marks_threads()
    assert_none_lost_none_doubled(app, smtp_server, [*queued, *more])


class FailingMarkWorker(WriterCountingWorker):
    """Its marks fail once, at the first group of its second batch, as a lost database connection would."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.marks = 0

    def mark_sending(self, group: t.Sequence[sa.Row[t.Any]], *, after: GroupRecord | None = None) -> set[int]:
        self.marks += 1
        if self.marks == 5:  # batch 1 (10 messages): groups 1, 2, 4, 3; batch 2: this one
            raise sa.exc.OperationalError("UPDATE mail_outbox ...", {}, Exception("server closed the connection"))
        return super().mark_sending(group, after=after)


def test_a_failed_batch_closes_the_writer(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, clock: Clock
) -> None:
    """A database error in a batch closes the writer kept by run(): the next batch gets a new one, and
    nothing is lost or sent twice."""
    app = make_outbox_app({"MAIL_OUTBOX_BATCH_SIZE": 10})
    queued = queue_messages(app, 20)
    worker = FailingMarkWorker(app, clock=clock)
    with pytest.raises(sa.exc.OperationalError):
        worker.run(once=True)  # --once: a database error ends the run
    assert worker.writers == 1 and not _marks_threads()
    clock.advance(61)  # past MAIL_OUTBOX_LEASE_SECONDS: the failed batch's claims ran out
    assert worker.run(once=True).sent == 10
    assert worker.writers == 2 and not _marks_threads()
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert {row.status for row in rows.values()} == {"sent"}


def test_a_run_reads_the_outbox_only_in_its_claims(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    """Each claim returns its rows (no SELECT after the UPDATE) and each group's mark is one UPDATE that
    returns nothing: its row count tells that the batch still holds the whole group."""
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 10})
    queued = queue_messages(app, 40)
    statements: list[str] = []
    engine = erlen_db.database_of(app).engine

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        assert OutboxWorker(app).run(once=True).sent == 40
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    outbox = [statement for statement in statements if "mail_outbox" in statement]
    assert not [statement for statement in outbox if statement.upper().startswith("SELECT")]
    # RETURNING only in the claim (which sets claim_token and claimed_until, and nothing else).
    assert all("RETURNING" not in statement or "SET claim_token=" in statement for statement in outbox)
    marks = [statement for statement in outbox if "CASE WHEN" in statement or "attempts + " in statement]
    assert len(marks) == 7  # one UPDATE per group: 1, 2, 4, 8, 10, 10, 5
    assert_none_lost_none_doubled(app, smtp_server, queued)


class TakeOverWorker(OutboxWorker):
    """Before its second group is marked, another worker takes over one of the group's rows (as it would once
    the row's lease ran out)."""

    def __init__(self, *args: t.Any, taken: int, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.taken = taken

    def checkpoint(self, step: str, row_id: int) -> None:
        if (step, row_id) == ("claimed", self.taken):
            with erlen_db.database_of(self.app).engine.begin() as connection:
                taken = sa.update(OutboxMessage).where(OutboxMessage.id == row_id)
                connection.execute(taken.values(claim_token="other"))


def test_a_row_taken_over_before_its_mark_is_not_sent(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    """When the mark's row count shows a row is no longer the batch's, the worker asks which: the others of
    the group are sent, that one is not (it is the other worker's now)."""
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 10})
    queued = queue_messages(app, 3)
    result = TakeOverWorker(app, taken=queued[2]).run_batch()  # groups [0], [1, 2]
    assert (result.sent, result.released) == (2, 1)
    rows = rows_of(app)
    assert [rows[ident].status for ident in queued] == ["sent", "sent", "pending"]
    assert rows[queued[2]].claim_token == "other" and rows[queued[2]].attempts == 0
    assert sorted(received(smtp_server).values()) == [1, 1]
    assert rows[queued[2]].message_id not in received(smtp_server)
