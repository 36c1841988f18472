"""The tables of TOTP two-factor authentication: each user's TOTP secret and their recovery codes.

The secret is kept encrypted (see :mod:`erlen_auth.totp`); recovery codes
only as keyed hashes. Both go with the user (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from erlen_db import Model


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TotpCredential(Model):
    """A user's TOTP authenticator: set up (``confirmed_at`` is ``None``) or in use.

    A row without ``confirmed_at`` is an enrolment under way: its secret was
    shown to the user but no code of it was typed yet, so it asks for
    nothing at sign-in. Confirming it is what turns two-factor sign-in on.
    """

    __tablename__ = "auth_totp"

    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), primary_key=True)
    #: The base32 secret, encrypted with a key derived from ``SECRET_KEY`` (a Fernet token).
    secret: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    #: When the user typed a first right code; ``None`` while the enrolment is under way.
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    #: The time step (Unix time // 30) of the last code accepted: codes of it or earlier are refused (no replay).
    last_used_step: Mapped[int | None] = mapped_column(BigInteger, default=None)

    def __repr__(self) -> str:
        return f"<TotpCredential of user {self.user_id}{'' if self.confirmed_at else ' (unconfirmed)'}>"


class RecoveryCode(Model):
    """A single-use recovery code of a user, stored as a keyed hash only."""

    __tablename__ = "auth_recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), index=True)
    #: HMAC-SHA256 of the normalised code, keyed with a key derived from ``SECRET_KEY``, in hexadecimal.
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    #: When the code was used; a used code opens nothing.
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    def __repr__(self) -> str:
        return f"<RecoveryCode {self.id} of user {self.user_id}{' (used)' if self.used_at else ''}>"


MODELS: tuple[type[Model], ...] = (TotpCredential, RecoveryCode)
