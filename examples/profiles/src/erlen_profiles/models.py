"""The ``profiles_profile`` table: one row per user of the ``auth`` plugin."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from erlen_auth import User
from erlen_db import Model


class Profile(Model):
    """A user's public profile; the row refers to another plugin's table, ``auth_user``."""

    __tablename__ = "profiles_profile"

    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(80))
    bio: Mapped[str] = mapped_column(Text, default="")
    user: Mapped[User] = relationship()

    def __str__(self) -> str:
        return self.display_name


MODELS = [Profile]
