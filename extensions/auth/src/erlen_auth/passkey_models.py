"""The table of passkeys: WebAuthn credentials that sign users in without a password.

A passkey's private key never leaves the user's authenticator (a phone, a
security key, the computer's own); the table keeps its public key, the
authenticator's signature counter and what the user sees of it (its name,
when it was added and last used). Nothing in it signs anybody in.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from erlen_db import Model

#: The longest name a user may give a passkey.
NAME_MAX_LENGTH = 80

#: The longest credential id WebAuthn allows (bytes).
CREDENTIAL_ID_MAX_LENGTH = 1023

#: The length of the user handle given to authenticators (bytes; WebAuthn allows up to 64).
USER_HANDLE_LENGTH = 32


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Passkey(Model):
    """A passkey of a user: a WebAuthn credential registered with ``navigator.credentials.create``.

    Deleted with its user.
    """

    __tablename__ = "auth_passkey"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), index=True)
    #: The credential's id, chosen by the authenticator: how a sign-in names the passkey it used.
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(CREDENTIAL_ID_MAX_LENGTH), unique=True)
    #: The credential's public key, COSE-encoded, as the authenticator gave it.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    #: The authenticator's signature counter at the last use (0 for authenticators that keep none, as most
    #: synced passkeys): a counter that goes back means the key was copied, and the sign-in is refused.
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The random handle authenticators store with the passkey for this account (the same for every passkey
    #: of the user); the account's id is never given away.
    user_handle: Mapped[bytes] = mapped_column(LargeBinary(64))
    #: How the browser can reach the authenticator (``internal``, ``usb``, ``hybrid``...), comma-separated.
    transports: Mapped[str] = mapped_column(String(255), default="")
    #: The authenticator model's AAGUID (all zeros when it does not say).
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    #: The name the user gave it ("Phone", "YubiKey").
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    def __repr__(self) -> str:
        return f"<Passkey {self.id} {self.name!r} of user {self.user_id}>"


MODELS: tuple[type[Model], ...] = (Passkey,)
