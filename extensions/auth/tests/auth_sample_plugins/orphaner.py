"""A plugin with a table referring to users without ON DELETE CASCADE, and no delete hook."""

from __future__ import annotations

import typing as t

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

import erlen
import erlen_db

PLUGIN = erlen.Plugin(name="orphaner", requires=["auth"])


class Orphan(erlen_db.Model):
    __tablename__ = "orphaner_thing"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id"))
    name: Mapped[str] = mapped_column(String(80))


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [Orphan]
