"""The table of the durable outbox, ``mail_outbox``; imported only when erlen-db is enabled."""

from __future__ import annotations

import datetime as dt
import json
import typing as t

from sqlalchemy import DateTime, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import erlen_db

#: The statuses of a queued message.
PENDING = "pending"  # waiting for its (next) attempt; claim_token set while a worker holds it
SENDING = "sending"  # a worker is handing it to the server: it may have been accepted
SENT = "sent"  # the server accepted it
FAILED = "failed"  # refused for good, or the last attempt failed; last_error says why
UNCERTAIN = "uncertain"  # a send was interrupted after it may have been accepted; an operator decides
DISCARDED = "discarded"  # an operator resolved a failed or uncertain message without sending it (again)
#: Recorded, never sent: a stand-in that makes a request do the same work as one that mails (last_error says why).
SUPPRESSED = "suppressed"
STATUSES = (PENDING, SENDING, SENT, FAILED, UNCERTAIN, DISCARDED, SUPPRESSED)


class OutboxBase(DeclarativeBase):
    """The declarative base of erlen-mail's tables, apart from the app's ``erlen_db.Model``."""

    metadata = erlen_db.naming_metadata()


class OutboxMessage(OutboxBase):
    """One queued message: its envelope, its bytes and its delivery state."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        # The worker's claim: pending rows whose attempt is due, oldest first.
        Index("ix_mail_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    #: The message's Message-ID header, the same on every attempt: receivers can tell a copy by it.
    message_id: Mapped[str] = mapped_column(String(255), index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    sender: Mapped[str] = mapped_column(String(320))
    #: The envelope recipients (to, cc and bcc), a JSON list of bare addresses.
    recipients: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    #: The worker attempt holding the row, and until when (its lease).
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    @property
    def recipient_list(self) -> list[str]:
        """The envelope recipients, as a list."""
        return t.cast(list[str], json.loads(self.recipients))

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.status} {self.message_id}>"


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` in UTC and timezone-aware (SQLite gives naive values back)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


__all__ = [
    "DISCARDED",
    "FAILED",
    "PENDING",
    "SENDING",
    "SENT",
    "STATUSES",
    "SUPPRESSED",
    "UNCERTAIN",
    "OutboxBase",
    "OutboxMessage",
    "aware",
]
