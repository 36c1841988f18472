"""The admin plugin's table: the audit log. Imported only when the plugin is enabled."""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from erlen_db import Model


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class AuditEntry(Model):
    """One change made through the admin: who, when, which object, what changed.

    ``user_id`` is not a foreign key on purpose: the record outlives the account.
    """

    __tablename__ = "admin_audit_log"
    __table_args__ = (sa.Index("ix_admin_audit_log_model_object", "model", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(), default=_now, index=True, info={"label": "When"})
    user_id: Mapped[int | None] = mapped_column(sa.Integer())
    user_email: Mapped[str | None] = mapped_column(sa.String(320), info={"label": "User"})
    action: Mapped[str] = mapped_column(sa.String(64))
    model: Mapped[str] = mapped_column(sa.String(100))
    object_id: Mapped[str | None] = mapped_column(sa.String(200))
    object_repr: Mapped[str] = mapped_column(sa.String(200), default="", info={"label": "Object"})
    changes: Mapped[dict[str, t.Any] | None] = mapped_column(sa.JSON())

    def __str__(self) -> str:
        """What was done to what, for headings: ``Edit library_book 40 “Book 40”``."""
        action = self.action[:1].upper() + self.action[1:]
        text = f"{action} {self.model} {self.object_id or ''}".strip()
        return f"{text} “{self.object_repr}”" if self.object_repr else text


MODELS = (AuditEntry,)
