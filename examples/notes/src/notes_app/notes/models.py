"""The notes plugin's table, ``notes_note``; its migrations branch is ``notes``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from erlen_auth import User
from erlen_db import Model


class Note(Model):
    """A note written by a user of the ``auth`` plugin."""

    __tablename__ = "notes_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    body: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    author: Mapped[User] = relationship()

    def __str__(self) -> str:
        return self.title


MODELS = [Note]
