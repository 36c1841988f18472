"""The tables of new-device notices and email changes: ``auth_known_device`` and ``auth_email_change``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from erlen_db import Model

from .models import EMAIL_MAX_LENGTH, USER_AGENT_MAX_LENGTH


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class KnownDevice(Model):
    """A browser a user signed in from, known by the hash of its long-lived ``erlen_device`` cookie.

    A sign-in from a browser that is not known to the user (no such row)
    mails them a ``new_device_sign_in`` notice. The cookie is random (32
    bytes) and only its SHA-256 is kept, so the table tells nobody the cookie.
    """

    __tablename__ = "auth_known_device"
    __table_args__ = (UniqueConstraint("user_id", "device_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), index=True)
    #: The SHA-256 of the device cookie, in hexadecimal.
    device_hash: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    #: When the user last signed in from the device (not every request: sign-ins only).
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    #: The browser's ``User-Agent`` at the first sign-in, cut to 255 characters.
    user_agent: Mapped[str] = mapped_column(String(USER_AGENT_MAX_LENGTH), default="")

    def __repr__(self) -> str:
        return f"<KnownDevice {self.id} of user {self.user_id}>"


class EmailChange(Model):
    """An email change waiting for confirmation at the new address (``kind = "confirm"``, one per user at most),
    or the undo of one that was confirmed (``kind = "undo"``, valid ``AUTH_EMAIL_CHANGE_UNDO_DAYS``).

    The signed links carry the row's id and a fingerprint of it: deleting the
    row (when it is used, or superseded by a newer request) makes its link
    stop working.
    """

    __tablename__ = "auth_email_change"
    # Ids are never reused on SQLite either: a superseded request's link must not match a newer row.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), index=True)
    #: ``"confirm"`` or ``"undo"``.
    kind: Mapped[str] = mapped_column(String(16))
    #: The new address to confirm, or the old address an undo restores.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)

    def __repr__(self) -> str:
        return f"<EmailChange {self.id} {self.kind} of user {self.user_id}>"


MODELS: tuple[type[Model], ...] = (KnownDevice, EmailChange)
