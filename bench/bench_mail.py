"""erlen-mail against Flask-Mailman: bulk sending over one SMTP connection.

Each contender builds ``count`` messages (1,000; 50 with ``--quick``) and sends
them over one connection to the same local aiosmtpd server on 127.0.0.1: the
same sender, recipient pattern, subject, text body and HTML alternative.

* erlen-mail: an ``erlen.create_app`` app with ``PLUGINS = ["mail"]``, the
  ``smtp`` backend and ``MAIL_BULK_RECONNECT_AFTER = 0`` (one connection),
  sending ``erlen_mail.Message`` objects with ``send_many``.
* Flask-Mailman: a plain Flask app with ``Mail(app)``, sending
  ``EmailMultiAlternatives`` objects with ``connection.send_messages`` on one
  ``mail.get_connection()`` (which opens one connection and closes it after).

Both build their messages inside the timed region (building is part of
sending), each inside an app context. The server counts the messages it
accepts and the connections they came over; before timing, each contender
sends a whole batch that must arrive complete over one connection, and every
timed batch is checked the same way. Figures are messages/s; the ratio
erlen-mail / Flask-Mailman has no target (higher is better).

The outbox benchmarks (``outbox_worker_sqlite``, ``outbox_worker_postgresql``)
put the durable outbox's worker next to sending directly, on each database:
the same ``count`` messages, built before timing, go to the same aiosmtpd
server over one connection, either with ``send_many`` (which serialises each
message as it sends it) or queued with ``erlen_mail.queue`` and committed
(before timing: that is the request's work) and then drained by
``OutboxWorker.run(once=True)``, the loop of ``erlen mail worker``, with
the outbox's default settings. Target: worker / direct >= 0.8. PostgreSQL is
``ERLEN_BENCH_POSTGRES_URL`` (``postgresql+psycopg://postgres@127.0.0.1:5432/test``
by default), in a schema of the benchmark's own, dropped after.
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import threading
import time
import typing as t
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

import flask
import harness
from harness import BenchError, Result

import erlen

#: Where ``run.py`` writes this module's results: ``results/mail.json``.
SUITE = "mail"

SENDER = "Erlen Bench <bench@example.com>"
SENDER_ADDRESS = "bench@example.com"
SUBJECT = "Your weekly digest"
TEXT = (
    "Hello,\n\n"
    "Here is what happened this week:\n\n"
    + "".join(f"- Item {n}: something worth reading about, with a link to read more.\n" for n in range(1, 6))
    + "\nSee you next week,\nThe Erlen benchmark\n"
)
HTML = (
    "<html><body><p>Hello,</p><p>Here is what happened this week:</p><ul>"
    + "".join(f'<li>Item {n}: <a href="https://example.com/items/{n}">worth reading</a></li>' for n in range(1, 6))
    + "</ul><p>See you next week,<br>The Erlen benchmark</p></body></html>\n"
)

ERLEN = "erlen-mail send_many"
MAILMAN = "flask-mailman send_messages"
DIRECT = "send_many (direct)"
WORKER = "outbox worker"

#: The outbox's target: the worker delivers at least this fraction of the direct rate.
WORKER_TARGET = harness.Target(">=", 0.8)


SMTP_TIMEOUT = 10.0


def recipient(index: int) -> str:
    return f"reader{index:05d}@example.com"


@dataclass(frozen=True)
class Plan:
    """How much is measured; every figure is an upper bound."""

    messages: int
    rounds: int
    max_seconds: float


FULL = Plan(messages=1000, rounds=6, max_seconds=240.0)
QUICK = Plan(messages=50, rounds=1, max_seconds=30.0)


# --------------------------------------------------------------------------- the SMTP server


@dataclass(frozen=True)
class Counts:
    """What the server had accepted at one moment."""

    messages: int
    connections: int
    bytes: int


class CountingHandler:
    """An aiosmtpd handler that accepts every message and counts messages, bytes and connections.

    A connection is counted when it delivers its first message (a new SMTP
    session), so ``connections`` is the number of connections that delivered
    mail; the server's own readiness probe delivers nothing and is not counted.
    The last message is kept (only that one) to check what was received.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session: object = None
        self.messages = 0
        self.connections = 0
        self.bytes = 0
        self.last_data = b""
        self.last_sender = ""
        self.last_recipients: list[str] = []

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:
        data = bytes(envelope.original_content or envelope.content)
        with self._lock:
            if session is not self._session:
                self._session = session  # held, so a later session cannot be the same object
                self.connections += 1
            self.messages += 1
            self.bytes += len(data)
            self.last_data = data
            self.last_sender = str(envelope.mail_from)
            self.last_recipients = list(envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def counts(self) -> Counts:
        with self._lock:
            return Counts(self.messages, self.connections, self.bytes)


@dataclass(frozen=True)
class Received:
    """The last message the server accepted: its bytes and its envelope."""

    data: bytes
    sender: str
    recipients: list[str]


class SMTPServer:
    """The parent's handle on the server process: asks its :class:`CountingHandler` what it received."""

    def __init__(self, port: int, pipe: t.Any) -> None:
        self.port = port
        self._pipe = pipe

    def _ask(self, question: str) -> t.Any:
        self._pipe.send(question)
        return self._pipe.recv()

    def counts(self) -> Counts:
        """What the server had accepted when asked."""
        return t.cast(Counts, self._ask("counts"))

    def last(self) -> Received:
        """The last message the server accepted."""
        return t.cast(Received, self._ask("last"))


def serve(port: int, pipe: t.Any) -> None:
    """The server process: aiosmtpd with a :class:`CountingHandler` on ``port``; answers ``pipe`` until told to stop."""
    from aiosmtpd.controller import Controller

    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10.0, server_hostname="localhost")
    controller.start()
    try:
        pipe.send("ready")
        while (question := pipe.recv()) != "stop":
            if question == "counts":
                pipe.send(handler.counts())
            else:
                with handler._lock:
                    pipe.send(Received(handler.last_data, handler.last_sender, handler.last_recipients))
    finally:
        controller.stop()


@contextmanager
def smtp_server() -> Iterator[SMTPServer]:
    """Run an aiosmtpd server on 127.0.0.1 and a free port, in a process of its own; always stop it.

    Its own process, as a mail server is in production: in a thread of the
    benchmark's process it would take the interpreter's lock from the client
    at each of its steps, and the client's own work (serialising, or the
    outbox's database writes) would be measured as waits for the server.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    port = harness.free_port()
    parent, child = context.Pipe()
    process = context.Process(target=serve, args=(port, child), name="erlen-bench-smtp", daemon=True)
    process.start()
    try:
        # Generous: a spawned process imports this module again, slow on a loaded machine.
        if not parent.poll(120.0) or parent.recv() != "ready":
            raise BenchError("the benchmark's SMTP server did not start within 120 s")
        yield SMTPServer(port, parent)
    finally:
        with contextlib.suppress(OSError, BrokenPipeError):
            parent.send("stop")
        process.join(10.0)
        if process.is_alive():
            process.kill()
            process.join(5.0)


# --------------------------------------------------------------------------- the contenders

#: Sends one batch of ``count`` messages, building them first; returns (seconds, messages the library says it sent).
Batch = Callable[[int], tuple[float, int]]


def erlen_batch(port: int) -> Batch:
    from erlen_mail import Message, send_many

    app = erlen.create_app(
        __name__,
        {
            "PLUGINS": ["mail"],
            "MAIL_BACKEND": "smtp",
            "MAIL_SMTP_HOST": "127.0.0.1",
            "MAIL_SMTP_PORT": port,
            "MAIL_SMTP_TIMEOUT": SMTP_TIMEOUT,
            "MAIL_BULK_RECONNECT_AFTER": 0,
            "MAIL_DEFAULT_SENDER": SENDER,
        },
        environ={},
    )

    def batch(count: int) -> tuple[float, int]:
        started = time.perf_counter()
        with app.app_context():
            messages = [
                Message(SUBJECT, to=[recipient(index)], body=TEXT, html=HTML, sender=SENDER) for index in range(count)
            ]
            result = send_many(messages)
        elapsed = time.perf_counter() - started
        if not result.ok:
            raise BenchError(f"{ERLEN}: {result.summary()}; first failure: {result.failed[0].error}")
        return elapsed, len(result.sent)

    return batch


def mailman_batch(port: int) -> Batch:
    from flask_mailman import EmailMultiAlternatives, Mail

    app = flask.Flask(__name__)
    app.config.update(
        MAIL_BACKEND="smtp",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_USE_TLS=False,
        MAIL_USE_SSL=False,
        MAIL_TIMEOUT=SMTP_TIMEOUT,
        MAIL_DEFAULT_SENDER=SENDER,
    )
    mail = Mail(app)

    def batch(count: int) -> tuple[float, int]:
        started = time.perf_counter()
        with app.app_context():
            connection = mail.get_connection()
            messages = []
            for index in range(count):
                message = EmailMultiAlternatives(SUBJECT, TEXT, SENDER, [recipient(index)], connection=connection)
                message.attach_alternative(HTML, "text/html")
                messages.append(message)
            sent = int(connection.send_messages(messages))  # opens one connection, sends all, closes it
        return time.perf_counter() - started, sent

    return batch


def build_messages(count: int) -> list[t.Any]:
    """The benchmark's ``count`` messages as ``erlen_mail.Message`` objects (the same for every contender)."""
    from erlen_mail import Message

    return [Message(SUBJECT, to=[recipient(index)], body=TEXT, html=HTML, sender=SENDER) for index in range(count)]


def outbox_app(port: int, url: str) -> flask.Flask:
    """An app with ``db`` and ``mail`` on ``url``, sending to the server on ``port``, with its outbox table.

    The outbox settings are the defaults; only the connection is kept for the
    whole batch (``MAIL_BULK_RECONNECT_AFTER = 0``), as for ``send_many``.
    """
    import erlen_db

    app = erlen.create_app(
        __name__,
        {
            "PLUGINS": ["db", "mail"],
            "DB_URL": url,
            "MAIL_BACKEND": "smtp",
            "MAIL_SMTP_HOST": "127.0.0.1",
            "MAIL_SMTP_PORT": port,
            "MAIL_SMTP_TIMEOUT": SMTP_TIMEOUT,
            "MAIL_BULK_RECONNECT_AFTER": 0,
            "MAIL_DEFAULT_SENDER": SENDER,
        },
        environ={},
    )
    erlen_db.database_of(app).create_all()
    return app


def direct_batch(app: flask.Flask, cpu: list[float]) -> Batch:
    """Sends a batch with ``send_many``; the messages are built before the clock starts.

    :param cpu: each batch's CPU time per message (the process's, in seconds) is appended to it.
    """
    from erlen_mail import send_many

    def batch(count: int) -> tuple[float, int]:
        messages = build_messages(count)
        with app.app_context():
            started, cpu_started = time.perf_counter(), time.process_time()
            result = send_many(messages)
            elapsed = time.perf_counter() - started
            cpu.append((time.process_time() - cpu_started) / count)
        if not result.ok:
            raise BenchError(f"{DIRECT}: {result.summary()}; first failure: {result.failed[0].error}")
        return elapsed, len(result.sent)

    return batch


class CommitCounter:
    """Counts the commits of an engine (SQLAlchemy's ``commit`` event), to report commits per message."""

    def __init__(self, engine: t.Any) -> None:
        import sqlalchemy as sa

        self.commits = 0
        #: The commits of the last batch the worker drained.
        self.last_batch = 0
        sa.event.listen(engine, "commit", self._count)

    def _count(self, connection: object) -> None:
        self.commits += 1


def worker_batch(app: flask.Flask, commits: CommitCounter, cpu: list[float]) -> Batch:
    """Queues a batch (before the clock starts) and drains it with the outbox worker; counts its commits.

    :param cpu: each batch's CPU time per message (the process's, all its threads, in seconds) is appended to it.
    """
    import sqlalchemy as sa

    import erlen_db
    from erlen_mail import queue
    from erlen_mail.outbox.models import OutboxMessage
    from erlen_mail.outbox.worker import OutboxWorker

    database = erlen_db.database_of(app)

    def batch(count: int) -> tuple[float, int]:
        messages = build_messages(count)
        with app.app_context():
            database.session.execute(sa.delete(OutboxMessage))  # every round starts from the same table
            for message in messages:
                queue(message)
            database.session.commit()
        worker = OutboxWorker(app)
        before = commits.commits
        started, cpu_started = time.perf_counter(), time.process_time()
        totals = worker.run(once=True)
        elapsed = time.perf_counter() - started
        cpu.append((time.process_time() - cpu_started) / count)
        commits.last_batch = commits.commits - before
        if totals.sent != count or totals.errors:
            raise BenchError(f"{WORKER}: {totals.summary()}; errors: {totals.errors[:3]}")
        return elapsed, totals.sent

    return batch


# --------------------------------------------------------------------------- checks


def check_received(name: str, server: SMTPServer, index: int) -> None:
    """Fail unless the last message the server received is message ``index`` as both contenders build it."""
    received = server.last()
    email = message_from_bytes(received.data, policy=policy.default)
    problems = []
    if received.sender != SENDER_ADDRESS:
        problems.append(f"envelope sender {received.sender!r}")
    if received.recipients != [recipient(index)]:
        problems.append(f"envelope recipients {received.recipients!r}")
    if str(email["Subject"]) != SUBJECT or str(email["To"]) != recipient(index):
        problems.append(f"Subject {email['Subject']!r}, To {email['To']!r}")
    if email.get_content_type() != "multipart/alternative":
        problems.append(f"content type {email.get_content_type()!r}")
    else:
        parts = {part.get_content_type(): part.get_content() for part in email.iter_parts()}
        if parts.get("text/plain", "").replace("\r\n", "\n") != TEXT:
            problems.append("the text body differs")
        if parts.get("text/html", "").replace("\r\n", "\n") != HTML:
            problems.append("the HTML alternative differs")
    if problems:
        raise BenchError(f"{name}: the server received an unexpected message: {'; '.join(problems)}")


class Meter:
    """Times batches of one contender and checks each against the server's counts."""

    def __init__(self, name: str, batch: Batch, server: SMTPServer, count: int) -> None:
        self.name = name
        self.batch = batch
        self.server = server
        self.count = count
        self.bytes_per_message = 0.0

    def run(self) -> float:
        """Send one batch; return messages/s. Fails unless every message arrived over one connection."""
        before = self.server.counts()
        seconds, reported = self.batch(self.count)
        after = self.server.counts()
        received = after.messages - before.messages
        connections = after.connections - before.connections
        if reported != self.count or received != self.count or connections != 1:
            raise BenchError(
                f"{self.name}: a batch of {self.count} messages reported {reported} sent; the server received "
                f"{received} over {connections} connection(s), expected {self.count} over 1"
            )
        self.bytes_per_message = (after.bytes - before.bytes) / received
        return self.count / seconds


# --------------------------------------------------------------------------- the suite


#: What this suite needs, as ``(module, distribution)`` pairs.
REQUIRED = (
    ("erlen_mail", "erlen-mail (./extensions/mail)"),
    ("flask_mailman", "flask-mailman"),
    ("aiosmtpd", "aiosmtpd"),
)
#: The distributions whose versions the results name.
DISTRIBUTIONS = ("erlen-mail", "flask-mailman", "aiosmtpd")


#: What the outbox benchmarks need besides erlen-mail and aiosmtpd.
OUTBOX_REQUIRED = (
    ("erlen_mail", "erlen-mail (./extensions/mail)"),
    ("erlen_db", "erlen-db (./extensions/db)"),
    ("aiosmtpd", "aiosmtpd"),
)


def run(quick: bool) -> list[Result]:
    """Run the mail benchmarks; ``quick`` sends one round of 50 messages per contender."""
    plan = QUICK if quick else FULL
    return harness.with_plan([bench_bulk_smtp(plan), *bench_outbox_worker(plan)], plan)


def bench_outbox_worker(plan: Plan) -> list[Result]:
    """The outbox worker against sending directly, on SQLite and on PostgreSQL."""
    titles = {
        f"outbox_worker_{database}": f"Outbox worker vs sending directly, {plan.messages:,} messages, {label} "
        "(send_many vs erlen mail worker's loop)"
        for database, label in (("sqlite", "SQLite file"), ("postgresql", "PostgreSQL"))
    }
    absent = harness.missing(OUTBOX_REQUIRED)
    if absent:
        return harness.skipped_all(titles, harness.not_installed(absent))
    results = []
    with smtp_server() as server, tempfile.TemporaryDirectory(prefix="erlen-bench-outbox-") as folder:
        results.append(
            compare_worker(
                plan,
                "outbox_worker_sqlite",
                titles["outbox_worker_sqlite"],
                server,
                f"sqlite:///{Path(folder) / 'outbox.sqlite3'}",
            )
        )
        try:
            with harness.postgres_schema_url() as url:
                results.append(
                    compare_worker(plan, "outbox_worker_postgresql", titles["outbox_worker_postgresql"], server, url)
                )
        except BenchError as exc:
            if "not reachable" not in str(exc):
                raise
            results.append(
                harness.skipped(
                    name="outbox_worker_postgresql", title=titles["outbox_worker_postgresql"], reason=str(exc)
                )
            )
    return results


def compare_worker(plan: Plan, name: str, title: str, server: SMTPServer, url: str) -> Result:
    """Alternate ``send_many`` and the outbox worker on the database at ``url``; their ratio against the target."""
    import erlen_db

    app = outbox_app(server.port, url)
    database = erlen_db.database_of(app)
    commits = CommitCounter(database.engine)
    cpu: dict[str, list[float]] = {DIRECT: [], WORKER: []}
    try:
        meters = {
            DIRECT: Meter(DIRECT, direct_batch(app, cpu[DIRECT]), server, plan.messages),
            WORKER: Meter(WORKER, worker_batch(app, commits, cpu[WORKER]), server, plan.messages),
        }
        # Before timing: each delivers a whole batch, complete, over one connection, as built.
        for meter in meters.values():
            meter.run()
            check_received(meter.name, server, plan.messages - 1)
        for times in cpu.values():
            times.clear()  # the checked batches are not timed
        samples = harness.alternate(
            {meter_name: meter.run for meter_name, meter in meters.items()},
            rounds=plan.rounds,
            max_seconds=plan.max_seconds,
            warmup=False,
        )
        config = app.config
        extra = {
            "messages per batch": plan.messages,
            "outbox settings": f"MAIL_OUTBOX_GROUP_SIZE={config['MAIL_OUTBOX_GROUP_SIZE']}, "
            f"MAIL_OUTBOX_BATCH_SIZE={config['MAIL_OUTBOX_BATCH_SIZE']}, "
            f"MAIL_OUTBOX_LEASE_SECONDS={config['MAIL_OUTBOX_LEASE_SECONDS']:g}, "
            f"MAIL_OUTBOX_DURABLE_MARKS={config['MAIL_OUTBOX_DURABLE_MARKS']}",
            "worker commits per message (last batch)": round(commits.last_batch / plan.messages, 3),
            # CPU time is steadier than the rates on a loaded machine (waits for the server and the
            # database are not in it); the ratio is direct / worker, as the rates' (higher is better).
            "CPU µs per message, median (send_many / worker)": " / ".join(
                f"{statistics.median(cpu[name]) * 1e6:.0f}" for name in (DIRECT, WORKER)
            ),
            "CPU ratio, send_many / worker (medians)": round(
                statistics.median(cpu[DIRECT]) / statistics.median(cpu[WORKER]), 3
            ),
            "versions": harness.versions(("erlen-mail", "erlen-db", "sqlalchemy", "psycopg", "aiosmtpd"), sqlite=True),
        }
    finally:
        database.dispose()
    return harness.compare(
        name=name,
        title=title,
        unit="msg/s",
        samples=samples,
        baseline=DIRECT,
        subject=WORKER,
        higher_is_better=True,
        target=WORKER_TARGET,
        notes=[
            "Both send the same messages (built before timing) to the same aiosmtpd server over one connection. "
            "send_many serialises each message as it sends it; the worker sends the bytes stored when the message "
            "was queued (queueing and its commit, the request's work, happen before timing).",
            "The worker's figure is the drain of a full outbox by OutboxWorker.run(once=True), the loop of "
            "`erlen mail worker`: claims, one commit per group of messages (overlapping the SMTP exchange of the "
            "group's first message, awaited before its final dot), the lease's heartbeat, the final empty claim. "
            "Every batch is checked: all of it arrived over one connection.",
            "Client, server and database share the machine: the ratio matters more than the absolute figures.",
        ],
        extra=extra,
    )


def bench_bulk_smtp(plan: Plan) -> Result:
    name = "bulk_smtp"
    title = f"Bulk mail, {plan.messages:,} messages over one SMTP connection to aiosmtpd (Flask-Mailman vs erlen-mail)"
    absent = harness.missing(REQUIRED)
    if absent:
        return harness.skipped(name=name, title=title, reason=harness.not_installed(absent))
    with smtp_server() as server:
        port = server.port
        meters = {
            MAILMAN: Meter(MAILMAN, mailman_batch(port), server, plan.messages),
            ERLEN: Meter(ERLEN, erlen_batch(port), server, plan.messages),
        }
        # Before timing: each contender delivers a whole batch, complete, over one connection, as built.
        for meter in meters.values():
            meter.run()
            check_received(meter.name, server, plan.messages - 1)
        samples = harness.alternate(
            {meter_name: meter.run for meter_name, meter in meters.items()},
            rounds=plan.rounds,
            max_seconds=plan.max_seconds,
            warmup=False,  # the checked batches above were the warm-up
        )
        totals = server.counts()
    return harness.compare(
        name=name,
        title=title,
        unit="msg/s",
        samples=samples,
        baseline=MAILMAN,
        subject=ERLEN,
        higher_is_better=True,
        notes=[
            "Each sample builds the batch's messages (text + HTML alternative, one recipient each) and sends them "
            "over one connection, connect and QUIT included, inside an app context.",
            "Every batch is checked: the server received all of it over one connection (counted by its handler).",
            "The aiosmtpd server runs in a process of its own on the same machine: the ratio matters more than "
            "the absolute figures. No target: the ratio is for information.",
        ],
        extra={
            "messages per batch": plan.messages,
            "bytes per message, erlen-mail": round(meters[ERLEN].bytes_per_message),
            "bytes per message, flask-mailman": round(meters[MAILMAN].bytes_per_message),
            "messages received by the server": totals.messages,
            "connections that delivered": totals.connections,
            "versions": harness.versions(DISTRIBUTIONS),
        },
    )
