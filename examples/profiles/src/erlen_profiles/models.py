"""The ``profiles_profile`` table: one row per user of the ``auth`` plugin, made when first needed."""

from __future__ import annotations

import typing as t

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

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


def default_display_name(user: User) -> str:
    """The display name of an account without one: the part of its address before the ``@``."""
    return str(user.email).split("@", 1)[0]


def default_profile(user: User) -> Profile:
    """The profile ``user`` has until one is saved: unsaved, and not added to any session.

    :param user: an account without a stored profile (one that predates the plugin, or made by a command).
    """
    return Profile(user_id=user.id, display_name=default_display_name(user), bio="")


def insert_missing_profile(session: Session, user: User) -> None:
    """Insert the default profile of ``user`` unless a row exists, in the session's transaction.

    ``INSERT ... ON CONFLICT DO NOTHING``: when two requests make the same
    profile at once, one inserts and the other finds the row (on PostgreSQL it
    waits for the first to commit), where a plain ``INSERT`` would fail the
    second with a duplicate key. Both dialects of Erlen, SQLite and PostgreSQL,
    have the clause.

    :param session: the session whose transaction makes the row.
    :param user: the profile's account.
    :raises NotImplementedError: the database is neither SQLite nor PostgreSQL.
    """
    dialect = session.get_bind().dialect.name
    insert: t.Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"erlen-profiles stores profiles on SQLite and PostgreSQL, not on {dialect}.")
    values = {"user_id": user.id, "display_name": default_display_name(user), "bio": ""}
    session.execute(insert(Profile).values(values).on_conflict_do_nothing(index_elements=[Profile.user_id]))
