"""A plugin serving a model whose nullable relationship loads with a join (``lazy="joined"``): PostgreSQL cannot
lock the nullable side of that outer join, so a write must lock the resource's own table alone."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

import erlen
import erlen_api
from erlen_db import Model

from .library import Shelf

PLUGIN = erlen.Plugin(name="api_sample_loans", requires=["db", "api", "api_sample_library"])


class Loan(Model):
    """A shelf lent out, perhaps none yet; its shelf is loaded with it, in one query."""

    __tablename__ = "api_sample_loan"

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower: Mapped[str] = mapped_column(String(80))
    shelf_id: Mapped[int | None] = mapped_column(ForeignKey("api_sample_shelf.id"))
    shelf: Mapped[Shelf | None] = relationship(lazy="joined")


@erlen.hookimpl
def erlen_db_models() -> Iterable[type[t.Any]]:
    return [Loan]


@erlen.hookimpl
def erlen_api_resources() -> Iterable[erlen_api.Resource]:
    writes: dict[erlen_api.resources.Operation, str] = {
        "create": "books.edit",
        "update": "books.edit",
        "delete": "books.edit",
    }
    return [erlen_api.Resource(Loan, name="loans", permissions=writes)]
