"""The counts each scenario asserts: acknowledged writes in the database, mail at the SMTP server.

Writes: every note whose POST was acknowledged must be in ``notes_note``
exactly once; a note that was not acknowledged may be there once (its answer
was lost), never twice.

Mail: every mail the users were promised must reach the SMTP server exactly
once: a confirmation for each acknowledged registration, and a notification
to the admin for each acknowledged note. Every message of the outbox queued
during the scenario must be received exactly once, by its Message-ID (a
message left ``uncertain`` by a killed worker counts as delivered only if the
server has it). A ``suppressed`` row (recorded so that a request does the
same work whether it mails or not, never sent) and a ``discarded`` one (an
operator's decision) must never be received. Mail that reached the server
without going through the outbox is counted and printed.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field

from erlen_mail.testing import ReceivedMessage

from .deployment import ADMIN_EMAIL, Deployment
from .load import Ledger


@dataclass
class WriteCounts:
    """Acknowledged notes against the rows of ``notes_note``."""

    attempted: int
    acknowledged: int
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    #: Saved although the user was never told (the answer was lost or was an error): title to its answers.
    saved_unacknowledged: dict[str, list[str]] = field(default_factory=dict)


def count_writes(deployment: Deployment, ledger: Ledger) -> WriteCounts:
    """Compare the ledger's notes with the database."""
    titles = list(ledger.notes)
    found: Counter[str] = Counter()
    for start in range(0, len(titles), 500):
        chunk = titles[start : start + 500]
        rows = deployment.query(
            "SELECT title, count(*) FROM notes_note WHERE title = ANY(:titles) GROUP BY title", titles=chunk
        )
        found.update({row[0]: int(row[1]) for row in rows})
    counts = WriteCounts(attempted=len(titles), acknowledged=sum(ledger.notes.values()))
    for title, acknowledged in ledger.notes.items():
        copies = found.get(title, 0)
        if copies > 1:
            counts.doubled.append(f"{title} ({copies} copies; answers {ledger.answers.get(title, [])})")
        if acknowledged and copies == 0:
            counts.lost.append(title)
        if not acknowledged and copies == 1:
            counts.saved_unacknowledged[title] = ledger.answers.get(title, [])
    return counts


#: Outbox statuses of rows that are never to be sent.
NEVER_SENT = frozenset({"suppressed", "discarded"})


@dataclass
class MailCounts:
    """Promised and queued mail against what the SMTP server received."""

    queued: int
    received: int
    promised: int
    #: Promised mail never received, or outbox messages never received (by Message-ID).
    lost: list[str] = field(default_factory=list)
    #: Message-IDs received more than once, and promised mail received in more than one message.
    doubled: list[str] = field(default_factory=list)
    #: Outbox rows the worker left ``uncertain`` (the server received them or not).
    uncertain: int = 0
    #: Messages received whose Message-ID is in no outbox row: sent from the request, outside the outbox.
    outside_outbox: int = 0
    #: Outbox rows by status at the end.
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass
class MailMark:
    """Where the outbox and the server's inbox stood when a scenario began."""

    outbox_id: int
    received: int
    #: The largest id of ``tasks_jobs`` (0 without ``tasks``).
    job_id: int = 0


def mark_mail(deployment: Deployment) -> MailMark:
    """Remember where the outbox and the inbox stand now."""
    (row,) = deployment.query("SELECT coalesce(max(id), 0) FROM mail_outbox")
    return MailMark(outbox_id=int(row[0]), received=len(deployment.smtp.messages), job_id=deployment.last_job_id())


def _message_id(message: ReceivedMessage) -> str:
    return str(message.email.get("Message-ID", "")).strip()


def _promised(ledger: Ledger) -> dict[str, tuple[str, str]]:
    """Each promised mail: a name for it to (recipient, subject)."""
    promised = {
        f"confirmation to {email}": (email, "Confirm your email address")
        for email, ok in ledger.registrations.items()
        if ok
    }
    promised.update(
        {f"notification of {title!r}": (ADMIN_EMAIL, f"New note: {title}") for title, ok in ledger.notes.items() if ok}
    )
    return promised


def settle_mail(deployment: Deployment, ledger: Ledger, mark: MailMark, *, timeout: float) -> float:
    """Wait (at most ``timeout`` seconds) until the outbox has nothing left to send and the promised mail arrived
    (and, with ``tasks``, no job is left waiting for the broker).

    :returns: the seconds waited.
    """
    started = time.monotonic()
    promised = set(_promised(ledger).values())
    while time.monotonic() - started < timeout:
        open_rows = deployment.query(
            "SELECT count(*) FROM mail_outbox WHERE id > :mark AND status IN ('pending', 'sending')",
            mark=mark.outbox_id,
        )[0][0]
        received = {
            (recipient, str(m.email.get("Subject", "")))
            for m in list(deployment.smtp.messages)[mark.received :]
            for recipient in m.recipients
        }
        waiting_jobs = deployment.job_statuses(mark.job_id).get("pending", 0)
        if open_rows == 0 and waiting_jobs == 0 and promised <= received:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def count_mail(deployment: Deployment, ledger: Ledger, mark: MailMark) -> MailCounts:
    """Compare the outbox rows queued since ``mark`` and the promised mail with what the server received."""
    rows = deployment.query(
        "SELECT message_id, status, subject, recipients FROM mail_outbox WHERE id > :mark", mark=mark.outbox_id
    )
    every_row_id = {row[0] for row in deployment.query("SELECT message_id FROM mail_outbox")}
    received = list(deployment.smtp.messages)
    by_id: Counter[str] = Counter(_message_id(m) for m in received)
    since_mark = received[mark.received :]
    promised = _promised(ledger)
    counts = MailCounts(
        queued=sum(1 for row in rows if row[1] not in NEVER_SENT), received=len(since_mark), promised=len(promised)
    )
    counts.statuses = dict(Counter(row[1] for row in rows))
    counts.uncertain = counts.statuses.get("uncertain", 0)
    lost_rows: set[tuple[str, str]] = set()  # (recipient, subject) of lost rows: a promise they hold is counted once
    for message_id, status, subject, recipients in rows:
        copies = by_id.get(message_id, 0)
        if status in NEVER_SENT:
            if copies:
                counts.doubled.append(f"{message_id} is {status} but was received {copies} time(s)")
        elif copies == 0:
            counts.lost.append(f"outbox {message_id} ({status})")
            lost_rows.update((recipient, subject) for recipient in json.loads(recipients))
        elif copies > 1:
            counts.doubled.append(f"{message_id} received {copies} times")
    for message in since_mark:
        if _message_id(message) not in every_row_id:
            counts.outside_outbox += 1
    # The same promised mail in several messages (each with its own Message-ID) is a double too.
    logical: Counter[tuple[str, str]] = Counter(
        (recipient, str(m.email.get("Subject", ""))) for m in since_mark for recipient in m.recipients
    )
    for name, key in promised.items():
        copies = logical.get(key, 0)
        if copies == 0 and key not in lost_rows:
            counts.lost.append(name)
        elif copies > 1:
            counts.doubled.append(f"{name} received {copies} times")
    return counts


__all__ = ["MailCounts", "MailMark", "WriteCounts", "count_mail", "count_writes", "mark_mail", "settle_mail"]
