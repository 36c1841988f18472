"""A worker that dies at any step neither loses a message nor sends one twice.

In-process, a worker subclass raises at a step (as a crash would stop it
there); the lease then runs out (the clock moves on) and a new worker takes
over. The subprocess tests kill a real ``erlen mail worker`` with SIGKILL
while the server holds its message, and stop one with SIGINT.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import typing as t
from pathlib import Path

import pytest

pytest.importorskip("erlen_db", reason="erlen-db is not installed: the durable outbox needs it (erlen-mail[outbox])")

from outbox_helpers import assert_none_lost_none_doubled, queue_messages, received, rows_of
from outbox_support import SENDER, Clock, OutboxApp

from erlen_mail.outbox.models import aware
from erlen_mail.outbox.worker import OutboxWorker
from erlen_mail.testing import ReceivedMessage, SMTPTestServer


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing handles it."""


class CrashingWorker(OutboxWorker):
    def __init__(self, *args: t.Any, step: str, row_id: int, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.step, self.row_id = step, row_id

    def checkpoint(self, step: str, row_id: int) -> None:
        if (step, row_id) == (self.step, self.row_id):
            raise Crash(step)


#: For a crash at each step of the second of three messages, sent with MAIL_OUTBOX_GROUP_SIZE 1 (groups
#: [0], [1], [2]) or 2 (groups [0], [1, 2]: a batch's groups start at 1 and double): the messages left
#: uncertain (by index). That is the group open at the crash: marked sending, its outcome not committed
#: yet. One commit records a group and marks the next, so one group is open at any time once sending
#: has begun; all other messages are sent, once.
CRASHES = {
    # Before the second message's group is marked: the group before it (the first message) is still open.
    "claimed": {1: [0], 2: [0]},
    # Its group marked (with the third message, not handed over yet, in groups of 2).
    "sending": {1: [1], 2: [1, 2]},
    # The server accepted it; the worker died before recording it: never resent.
    "accepted": {1: [1], 2: [1, 2]},
    # Recorded: with the mark of the group after it, which nobody handed over; or, the batch's last
    # group, alone.
    "sent": {1: [2], 2: []},
}


@pytest.mark.parametrize("group_size", [1, 2])
@pytest.mark.parametrize("step", list(CRASHES))
def test_crash_at_each_step(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, clock: Clock, step: str, group_size: int
) -> None:
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": group_size})
    queued = queue_messages(app, 3)
    with pytest.raises(Crash):
        CrashingWorker(app, clock=clock, step=step, row_id=queued[1]).run(once=True)
    assert_none_lost_none_doubled(app, smtp_server, queued, settled=False)

    # Within the lease nobody touches the interrupted rows.
    after = OutboxWorker(app, clock=clock).run(once=True)
    assert after.recovered == 0
    clock.advance(61)  # past MAIL_OUTBOX_LEASE_SECONDS
    OutboxWorker(app, clock=clock).run(once=True)
    clock.advance(3600)
    OutboxWorker(app, clock=clock).run(once=True)

    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    open_group = [queued[index] for index in CRASHES[step][group_size]]
    assert {i: rows[i].status for i in queued} == {i: "uncertain" if i in open_group else "sent" for i in queued}
    if step == "accepted":
        assert received(smtp_server)[rows[queued[1]].message_id] == 1
    for ident in open_group:
        assert "may have accepted it" in (rows[ident].last_error or "")
        assert rows[ident].claim_token is None


def test_uncertain_is_resent_with_the_same_message_id_when_configured(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, clock: Clock
) -> None:
    app = make_outbox_app({"MAIL_OUTBOX_RESEND_UNCERTAIN": True})
    queued = queue_messages(app, 1)
    with pytest.raises(Crash):
        CrashingWorker(app, clock=clock, step="accepted", row_id=queued[0]).run(once=True)
    clock.advance(61)
    OutboxWorker(app, clock=clock).run(once=True)
    [row] = rows_of(app).values()
    assert row.status == "sent"
    assert received(smtp_server) == {row.message_id: 2}  # at least once: a copy, with the same Message-ID


def test_hang_up_after_data_is_uncertain(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app()
    queued = queue_messages(app, 2)
    smtp_server.hang_up_after_data = True
    totals = OutboxWorker(app).run(once=True)
    assert totals.uncertain == 2 and totals.retrying == 0
    smtp_server.hang_up_after_data = False
    assert OutboxWorker(app).run(once=True).claimed == 0  # not sent again
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    for row in rows.values():
        assert row.status == "uncertain"
        assert "after the message was sent, before the server answered" in (row.last_error or "")
    assert len(received(smtp_server)) == 2


def test_operator_resolves_uncertain(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer) -> None:
    app = make_outbox_app()
    queued = queue_messages(app, 1)
    smtp_server.hang_up_after_data = True
    OutboxWorker(app).run(once=True)
    smtp_server.hang_up_after_data = False
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["mail", "outbox", "--status", "uncertain", "--message-ids"])
    assert listing.exit_code == 0, listing.output
    assert "uncertain" in listing.output and "user0@example.com" in listing.output and "Message 0" in listing.output
    assert f"Message-ID: {rows_of(app)[queued[0]].message_id}" in listing.output  # to search the relay's log
    retried = runner.invoke(args=["mail", "retry", str(queued[0])])
    assert retried.exit_code == 0, retried.output
    assert "Queued 1 message(s) again" in retried.output
    OutboxWorker(app).run(once=True)
    [row] = rows_of(app).values()
    assert row.status == "sent"
    assert received(smtp_server) == {row.message_id: 2}


# A real worker process.


def _worker_process(tmp_path: Path, app_config: dict[str, t.Any], *args: str) -> subprocess.Popen[str]:
    (tmp_path / "worker_app.py").write_text(
        f"from erlen import create_app\napp = create_app(__name__, {app_config!r})\n", encoding="utf-8"
    )
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "erlen", "--app", "worker_app:app", "mail", "worker", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _config(app: t.Any, smtp_server: SMTPTestServer, **settings: t.Any) -> dict[str, t.Any]:
    """The worker app's settings: the test app's database and server, ``settings``, the outbox's defaults otherwise."""
    return {
        "PLUGINS": ["db", "mail"],
        "DB_URL": app.config["DB_URL"],
        "MAIL_DEFAULT_SENDER": SENDER,
        **smtp_server.config(),
        **settings,
    }


def test_sigkill_mid_batch(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, tmp_path: Path) -> None:
    """A worker killed mid-group: its other claimed rows go out after a short lease, nothing twice.

    With the default settings (batches of 100, a 15 s lease) but groups of 1: 50 messages, one batch;
    the worker dies while the server holds the 30th message. (The default groups:
    :func:`test_sigkill_mid_group_with_the_default_groups`.)
    """
    app = make_outbox_app()
    queued = queue_messages(app, 50)
    lease = dt.timedelta(seconds=15)  # MAIL_OUTBOX_LEASE_SECONDS's default: a crash delays mail by seconds
    killed = threading.Event()
    process = _worker_process(tmp_path, _config(app, smtp_server, MAIL_OUTBOX_GROUP_SIZE=1), "--poll", "0.2")

    def kill_on_thirtieth(message: ReceivedMessage) -> None:
        if len(smtp_server.messages) == 30:
            process.kill()  # SIGKILL: dies before it hears the server's 250
            process.wait(timeout=30)
            killed.set()

    smtp_server.on_data = kill_on_thirtieth
    try:
        assert killed.wait(timeout=60), "the worker never delivered 30 messages"
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate(timeout=30)[0]
    killed_at = dt.datetime.now(dt.UTC)
    smtp_server.on_data = None
    assert process.returncode == -signal.SIGKILL, output

    rows = assert_none_lost_none_doubled(app, smtp_server, queued, settled=False)
    first, in_flight, claimed = queued[:29], queued[29:30], queued[30:]
    assert [rows[i].status for i in queued] == ["sent"] * 29 + ["sending"] + ["pending"] * 20
    # The dead worker's claims end at most one lease after it died (they were 300 s long, and not renewed).
    held = [rows[i] for i in in_flight + claimed]
    assert all(row.claim_token is not None for row in held)
    ends = [t.cast(dt.datetime, aware(row.claimed_until)) for row in held]
    assert max(ends) <= killed_at + lease

    # Before the leases end, another worker leaves the rows alone; once they have, it takes over.
    before = OutboxWorker(app, clock=lambda: min(ends) - dt.timedelta(milliseconds=1)).run(once=True)
    assert (before.claimed, before.recovered) == (0, 0)
    takeover = OutboxWorker(app, clock=lambda: max(ends) + dt.timedelta(milliseconds=1)).run(once=True)
    assert (takeover.recovered, takeover.sent, takeover.uncertain) == (1, 20, 0)

    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert [rows[i].status for i in queued] == ["sent"] * 29 + ["uncertain"] + ["sent"] * 20
    counts = received(smtp_server)
    assert all(counts[rows[i].message_id] == 1 for i in first + claimed)
    # The message in flight reached the server as the worker died; the worker cannot tell, so it is
    # not sent again. Only it is uncertain: the rest of the batch was never handed over.
    assert [counts[rows[i].message_id] for i in in_flight] == [1]
    assert sum(counts.values()) == 50


def test_sigkill_mid_group_with_the_default_groups(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, tmp_path: Path
) -> None:
    """A worker with the default settings killed mid-group leaves at most MAIL_OUTBOX_GROUP_SIZE messages
    uncertain, none sent twice; the operator settles them by their Message-IDs, and each is then sent once.

    50 messages, one batch, in groups of 1, 2, 4, 8, 10, 10, 10, 5; the worker dies while the server
    holds the 30th message, the fifth of the group of messages 26 to 35.
    """
    app = make_outbox_app()
    queued = queue_messages(app, 50)
    group_size = app.config["MAIL_OUTBOX_GROUP_SIZE"]
    assert group_size == 10  # the default
    sizes = OutboxWorker(app).group_sizes(len(queued))
    assert sizes == [1, 2, 4, 8, 10, 10, 10, 5]
    killed = threading.Event()
    process = _worker_process(tmp_path, _config(app, smtp_server), "--poll", "0.2")

    def kill_on_thirtieth(message: ReceivedMessage) -> None:
        if len(smtp_server.messages) == 30:
            process.kill()  # SIGKILL: dies before it hears the server's 250
            process.wait(timeout=30)
            killed.set()

    smtp_server.on_data = kill_on_thirtieth
    try:
        assert killed.wait(timeout=60), "the worker never delivered 30 messages"
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate(timeout=30)[0]
    smtp_server.on_data = None
    assert process.returncode == -signal.SIGKILL, output

    rows = assert_none_lost_none_doubled(app, smtp_server, queued, settled=False)
    # The open group: messages 26 to 35 (indexes 25 to 34), marked sending before the 26th was accepted.
    opened = sum(sizes[:5])
    open_group = queued[opened : opened + group_size]
    assert [rows[i].status for i in queued] == ["sent"] * opened + ["sending"] * group_size + ["pending"] * 15
    ends = [t.cast(dt.datetime, aware(rows[i].claimed_until)) for i in queued[opened:]]
    takeover = OutboxWorker(app, clock=lambda: max(ends) + dt.timedelta(milliseconds=1)).run(once=True)
    assert (takeover.recovered, takeover.sent, takeover.uncertain) == (group_size, 15, 0)

    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    uncertain = [i for i in queued if rows[i].status == "uncertain"]
    assert uncertain == open_group and len(uncertain) <= group_size
    counts = received(smtp_server)
    # The server has the open group's first five (four accepted, the fifth held as the worker died),
    # never the other five; every other message exactly once.
    assert [counts[rows[i].message_id] for i in open_group] == [1] * 5 + [0] * 5
    assert all(counts[rows[i].message_id] == 1 for i in queued if i not in open_group)

    # The operator looks each uncertain message up by its Message-ID (here: the server's inbox) and
    # discards those it has, retries the others.
    reached = [i for i in uncertain if counts[rows[i].message_id]]
    missing = [i for i in uncertain if not counts[rows[i].message_id]]
    runner = app.test_cli_runner()
    for command, ids in (("discard", reached), ("retry", missing)):
        settled = runner.invoke(args=["mail", command, *map(str, ids)])
        assert settled.exit_code == 0, settled.output
    assert OutboxWorker(app).run(once=True).sent == 5
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert {rows[i].status for i in reached} == {"discarded"}
    assert {rows[i].status for i in queued if i not in reached} == {"sent"}
    assert sorted(received(smtp_server).values()) == [1] * 50


def test_sigint_stops_cleanly(make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, tmp_path: Path) -> None:
    app = make_outbox_app()
    queued = queue_messages(app, 5)
    interrupted = threading.Event()
    process = _worker_process(tmp_path, _config(app, smtp_server), "--batch", "5", "--poll", "0.2")  # one group

    def interrupt_on_first(message: ReceivedMessage) -> None:
        if not interrupted.is_set():
            process.send_signal(signal.SIGINT)  # Ctrl-C while the first message is being sent
            interrupted.set()

    smtp_server.on_data = interrupt_on_first
    try:
        output = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.kill()
    smtp_server.on_data = None
    assert interrupted.is_set()
    assert process.returncode == 0, output
    assert "Stopping after the current message" in output and "Stopped: 1 sent" in output

    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert [rows[i].status for i in queued] == ["sent", "pending", "pending", "pending", "pending"]
    assert all(row.claim_token is None and row.attempts == 0 for row in list(rows.values())[1:])  # released
    assert OutboxWorker(app).run(once=True).sent == 4  # another worker takes them at once
    assert_none_lost_none_doubled(app, smtp_server, queued)


#: Where a real worker is SIGKILLed, on the fifth of ten messages (index 4), sent in groups of 1
#: (``MAIL_OUTBOX_GROUP_SIZE = 1``): the message left uncertain (by index), and whether the server
#: received it. Each moment is reached for certain: the worker parks at one of its checkpoints (the app
#: it runs makes ``checkpoint`` wait there), or the server holds the message (``on_data``), until the
#: test kills it.
KILLS = {
    # Before the commit that marks the fifth sending (and records the fourth sent) is started: the
    # fourth was accepted (its 250 read), not yet recorded.
    "claimed": (3, 1),
    # Marked sending; MAIL FROM, RCPT TO, DATA and the body were sent, not the final dot: the server
    # never accepts it, and the worker cannot know that it did not.
    "sending": (4, 0),
    # The final dot was sent; the server holds the message, its 250 not written yet.
    "server": (4, 1),
    # The server's 250 was read; not recorded yet.
    "accepted": (4, 1),
    # Recorded sent, with the mark of the sixth, whose body (not its dot) was sent.
    "sent": (5, 0),
}


def _parking_worker(tmp_path: Path, app_config: dict[str, t.Any], step: str, row_id: int) -> subprocess.Popen[str]:
    """``erlen mail worker`` on an app whose worker parks at ``step`` of the row ``row_id`` until killed."""
    (tmp_path / "parking.py").write_text(
        "import threading\n"
        "from erlen_mail.outbox.worker import OutboxWorker\n\n\n"
        "def checkpoint(self, step, row_id):\n"
        f"    if (step, row_id) == ({step!r}, {row_id!r}):\n"
        "        print(f'Parked at {step} of {row_id}', flush=True)\n"
        "        threading.Event().wait()\n\n\n"
        "OutboxWorker.checkpoint = checkpoint\n",
        encoding="utf-8",
    )
    (tmp_path / "worker_app.py").write_text(
        f"import parking  # noqa: F401\nfrom erlen import create_app\napp = create_app(__name__, {app_config!r})\n",
        encoding="utf-8",
    )
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "erlen", "--app", "worker_app:app", "mail", "worker", "--poll", "0.2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("moment", list(KILLS))
def test_sigkill_at_each_moment(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, tmp_path: Path, moment: str
) -> None:
    """A real worker SIGKILLed at each moment of a message's delivery leaves exactly one message
    uncertain, the one it was handing over (or whose 250 it had not recorded yet); a new worker sends
    every other message, each exactly once."""
    app = make_outbox_app()
    queued = queue_messages(app, 10)
    uncertain, reached = KILLS[moment]
    killed = threading.Event()
    config = _config(app, smtp_server, MAIL_OUTBOX_GROUP_SIZE=1)
    if moment == "server":
        process = _worker_process(tmp_path, config, "--poll", "0.2")

        def kill_on_fifth(message: ReceivedMessage) -> None:
            if len(smtp_server.messages) == 5:
                process.kill()  # the server holds the message: the worker dies before it hears the 250
                process.wait(timeout=30)
                killed.set()

        smtp_server.on_data = kill_on_fifth
    else:
        process = _parking_worker(tmp_path, config, moment, queued[4])
    try:
        if moment == "server":
            assert killed.wait(timeout=60), "the worker never delivered 5 messages"
        else:
            assert process.stdout is not None
            lines: list[str] = []
            while not (lines and lines[-1].startswith("Parked at")):
                lines.append(process.stdout.readline())  # blocks until the worker parks (or dies: then "")
                assert lines[-1], "".join(lines)
            process.kill()
            process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate(timeout=30)[0]
        smtp_server.on_data = None
    assert process.returncode == -signal.SIGKILL, output

    rows = assert_none_lost_none_doubled(app, smtp_server, queued, settled=False)
    statuses = ["sent"] * uncertain + ["sending"] + ["pending"] * (9 - uncertain)
    assert [rows[i].status for i in queued] == statuses
    ends = [t.cast(dt.datetime, aware(rows[i].claimed_until)) for i in queued[uncertain:]]

    takeover = OutboxWorker(app, clock=lambda: max(ends) + dt.timedelta(milliseconds=1)).run(once=True)
    assert (takeover.recovered, takeover.sent, takeover.uncertain) == (1, 9 - uncertain, 0)

    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    assert [rows[i].status for i in queued] == ["sent"] * uncertain + ["uncertain"] + ["sent"] * (9 - uncertain)
    assert "may have accepted it" in (rows[queued[uncertain]].last_error or "")
    counts = received(smtp_server)
    assert [counts[rows[i].message_id] for i in queued] == [1] * uncertain + [reached] + [1] * (9 - uncertain)


def test_crash_in_a_full_group_after_a_full_batch(
    make_outbox_app: OutboxApp, smtp_server: SMTPTestServer, clock: Clock
) -> None:
    """After a full batch the next one starts with a full group: a crash in it leaves that group uncertain,
    no more (at most MAIL_OUTBOX_GROUP_SIZE), and every other message sent once."""
    app = make_outbox_app({"MAIL_OUTBOX_GROUP_SIZE": 4, "MAIL_OUTBOX_BATCH_SIZE": 10})
    queued = queue_messages(app, 20)
    # Batch 1: groups of 1, 2, 4, 3; batch 2: 4 (messages 10-13, the crash at the second), 4, 2.
    with pytest.raises(Crash):
        CrashingWorker(app, clock=clock, step="accepted", row_id=queued[11]).run(once=True)
    clock.advance(61)  # past MAIL_OUTBOX_LEASE_SECONDS
    OutboxWorker(app, clock=clock).run(once=True)
    rows = assert_none_lost_none_doubled(app, smtp_server, queued)
    open_group = queued[10:14]
    assert {i: rows[i].status for i in queued} == {i: "uncertain" if i in open_group else "sent" for i in queued}
    assert all(received(smtp_server)[rows[i].message_id] == 1 for i in queued if i not in open_group[2:])
