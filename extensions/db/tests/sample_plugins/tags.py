"""A plugin whose models are on the shared erlen_db.Model, claimed through the hook."""

from __future__ import annotations

import typing as t

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

import erlen
from erlen_db import Model

PLUGIN = erlen.Plugin(name="tags", requires=["db"])


class Tag(Model):
    __tablename__ = "tags_tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40), unique=True)


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [Tag]
