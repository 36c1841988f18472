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
"""

from __future__ import annotations

import threading
import time
import typing as t
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy

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


@contextmanager
def smtp_server(handler: CountingHandler) -> Iterator[int]:
    """Run an aiosmtpd server on 127.0.0.1 and a free port with ``handler``; yield the port; always stop it."""
    from aiosmtpd.controller import Controller

    port = harness.free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10.0, server_hostname="localhost")
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


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


# --------------------------------------------------------------------------- checks


def check_received(name: str, handler: CountingHandler, index: int) -> None:
    """Fail unless the last message the server received is message ``index`` as both contenders build it."""
    email = message_from_bytes(handler.last_data, policy=policy.default)
    problems = []
    if handler.last_sender != SENDER_ADDRESS:
        problems.append(f"envelope sender {handler.last_sender!r}")
    if handler.last_recipients != [recipient(index)]:
        problems.append(f"envelope recipients {handler.last_recipients!r}")
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

    def __init__(self, name: str, batch: Batch, handler: CountingHandler, count: int) -> None:
        self.name = name
        self.batch = batch
        self.handler = handler
        self.count = count
        self.bytes_per_message = 0.0

    def run(self) -> float:
        """Send one batch; return messages/s. Fails unless every message arrived over one connection."""
        before = self.handler.counts()
        seconds, reported = self.batch(self.count)
        after = self.handler.counts()
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


def run(quick: bool) -> list[Result]:
    """Run the mail benchmark; ``quick`` sends one round of 50 messages per contender."""
    plan = QUICK if quick else FULL
    return harness.with_plan([bench_bulk_smtp(plan)], plan)


def bench_bulk_smtp(plan: Plan) -> Result:
    name = "bulk_smtp"
    title = f"Bulk mail, {plan.messages:,} messages over one SMTP connection to aiosmtpd (Flask-Mailman vs erlen-mail)"
    absent = harness.missing(REQUIRED)
    if absent:
        return harness.skipped(name=name, title=title, reason=harness.not_installed(absent))
    handler = CountingHandler()
    with smtp_server(handler) as port:
        meters = {
            MAILMAN: Meter(MAILMAN, mailman_batch(port), handler, plan.messages),
            ERLEN: Meter(ERLEN, erlen_batch(port), handler, plan.messages),
        }
        # Before timing: each contender delivers a whole batch, complete, over one connection, as built.
        for meter in meters.values():
            meter.run()
            check_received(meter.name, handler, plan.messages - 1)
        samples = harness.alternate(
            {meter_name: meter.run for meter_name, meter in meters.items()},
            rounds=plan.rounds,
            max_seconds=plan.max_seconds,
            warmup=False,  # the checked batches above were the warm-up
        )
        totals = handler.counts()
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
            "Client and aiosmtpd server share this process (the server in a thread): the ratio matters more than "
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
