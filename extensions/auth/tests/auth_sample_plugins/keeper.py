"""A plugin keeping data about users in a table whose key has no ON DELETE CASCADE, and both data hooks."""

from __future__ import annotations

import datetime as dt
import typing as t

import sqlalchemy as sa
from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

import erlen
import erlen_db
from erlen_auth import User

PLUGIN = erlen.Plugin(name="keeper", requires=["auth"], version="2.5.0")


class KeptItem(erlen_db.Model):
    __tablename__ = "keeper_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    # No ON DELETE CASCADE: the plugin's delete hook must delete the rows itself.
    owner_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id"), index=True)
    label: Mapped[str] = mapped_column(String(80))
    made_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [KeptItem]


@erlen.hookimpl
def erlen_auth_user_export(user: User) -> dict[str, t.Any]:
    items = erlen_db.session.scalars(sa.select(KeptItem).where(KeptItem.owner_id == user.id).order_by(KeptItem.id))
    return {"items": [{"label": item.label, "made_at": item.made_at} for item in items]}


@erlen.hookimpl
def erlen_auth_user_delete(user: User) -> None:
    erlen_db.session.execute(sa.delete(KeptItem).where(KeptItem.owner_id == user.id))
