"""A sample plugin whose model loads a nullable relationship with a join (``lazy="joined"``): PostgreSQL cannot
lock the nullable side of that outer join, so what the admin holds must be named (``FOR UPDATE OF``)."""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

import erlen
from erlen_db import Model

PLUGIN = erlen.Plugin(name="eager_loads", requires=["db", "admin", "library"])


class Loan(Model):
    """A loan of a book, perhaps of none yet; its book is loaded with it, in one query."""

    __tablename__ = "eager_loan"

    id: Mapped[int] = mapped_column(primary_key=True)
    borrower: Mapped[str] = mapped_column(sa.String(80))
    returned: Mapped[bool] = mapped_column(default=False)
    book_id: Mapped[int | None] = mapped_column(sa.ForeignKey("library_book.id"))
    book: Mapped[t.Any] = relationship("Book", lazy="joined")


def mark_returned(view: t.Any, loan: Loan) -> str:
    """The object action: the loan is over."""
    loan.returned = True
    return "Returned."


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [Loan]


@erlen.hookimpl
def erlen_admin_views() -> list[t.Any]:
    from erlen_admin import Action, ModelView, ObjectAction

    def returned_all(view: t.Any, loans: t.Sequence[Loan]) -> None:
        for loan in loans:
            loan.returned = True

    return [
        ModelView(
            Loan,
            list_columns=["id", "borrower", "returned", "book_id"],
            actions=[Action("return_all", "Mark returned", returned_all, permission="edit", confirm=False)],
            object_actions=[ObjectAction("return", "Mark returned", mark_returned, permission="edit")],
        )
    ]
