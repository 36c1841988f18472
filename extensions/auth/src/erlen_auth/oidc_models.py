"""The table of identities at OpenID Connect providers linked to accounts: ``auth_identity``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from erlen_db import Model

from .models import EMAIL_MAX_LENGTH

#: The longest provider name (the key of ``AUTH_OIDC_PROVIDERS``) the table stores.
PROVIDER_MAX_LENGTH = 40

#: The longest subject the table stores: OpenID Connect allows at most 255 ASCII characters.
SUBJECT_MAX_LENGTH = 255


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AuthIdentity(Model):
    """An account at an OpenID Connect provider, linked to a user: signing in there signs in here.

    A provider names an account by its ``sub`` claim, stable and never
    reassigned (unlike the email address, which can change hands), so
    ``(provider, subject)`` is the key; the email is kept to show the user
    which account is linked.
    """

    __tablename__ = "auth_identity"
    __table_args__ = (UniqueConstraint("provider", "subject", name="uq_auth_identity_provider_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), index=True)
    #: The key of the provider in ``AUTH_OIDC_PROVIDERS``.
    provider: Mapped[str] = mapped_column(String(PROVIDER_MAX_LENGTH))
    #: The provider's ``sub`` claim.
    subject: Mapped[str] = mapped_column(String(SUBJECT_MAX_LENGTH))
    #: The address the provider gave when the identity was last used (for display only: never trusted to sign in).
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX_LENGTH), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    def __repr__(self) -> str:
        return f"<AuthIdentity {self.provider}:{self.subject} of user {self.user_id}>"


MODELS: tuple[type[Model], ...] = (AuthIdentity,)
