"""A plugin serving two models as resources: shelves (open to read) and books (each user's own)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import typing as t
from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import DateTime, Enum, ForeignKey, Numeric, SmallInteger, String, func
from sqlalchemy.orm import Mapped, mapped_column

import erlen
import erlen_api
import erlen_db
from erlen_db import Model

PLUGIN = erlen.Plugin(name="api_sample_library", requires=["db", "api", "auth"])


class Status(enum.Enum):
    draft = "draft"
    published = "published"


class Shelf(Model):
    __tablename__ = "api_sample_shelf"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    floor: Mapped[int] = mapped_column(SmallInteger, default=0)


class Book(Model):
    __tablename__ = "api_sample_book"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    isbn: Mapped[str | None] = mapped_column(String(13), unique=True)
    status: Mapped[Status] = mapped_column(Enum(Status), default=Status.draft)
    price: Mapped[decimal.Decimal | None] = mapped_column(Numeric(6, 2))
    shelf_id: Mapped[int | None] = mapped_column(ForeignKey("api_sample_shelf.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id"))
    access_token: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def _own_books(statement: sa.Select[t.Any], operation: str) -> sa.Select[t.Any]:
    """Only the calling user's books."""
    user = erlen_api.current_identity().user
    return statement.where(Book.owner_id == getattr(user, "id", None))


def _set_owner(book: Book) -> None:
    book.owner_id = t.cast(int, getattr(erlen_api.current_identity().user, "id", None))
    if book.title == "Refused on create":
        _refuse_title()
    if book.title.startswith("Shelved: "):
        # Something else written with the book, in its transaction (as a queued job or mail would be).
        erlen_db.session.add(Shelf(name=book.title.removeprefix("Shelved: ")))


def _check_change(book: Book) -> None:
    if book.title == "Refused on update":
        _refuse_title()


def _refuse_title() -> t.NoReturn:
    # A 422 lists its errors, each with its place, as the OpenAPI document describes every 422.
    error = {"detail": "This title is refused.", "location": "body", "pointer": "#/title", "type": "refused"}
    erlen_api.abort(422, "The request's inputs are invalid.", errors=[error])


@erlen.hookimpl
def erlen_db_models() -> Iterable[type[t.Any]]:
    return [Shelf, Book]


@erlen.hookimpl
def erlen_api_resources(app: Flask) -> Iterable[erlen_api.Resource]:
    writes: dict[erlen_api.resources.Operation, str] = {
        "create": "books.edit",
        "update": "books.edit",
        "delete": "books.edit",
    }
    return [
        erlen_api.Resource(
            Shelf,
            name="shelves",
            operations=["list", "read", "create", "update", "delete"],
            permissions=writes,
            sorts=["name"],
            filters=["floor"],
            description="Shelves of the library.",
        ),
        erlen_api.Resource(
            Book,
            name="books",
            permissions=writes,
            login_required=True,
            read_only=["owner_id"],
            filters=["status", "shelf_id"],
            sorts=["title"],
            default_sort="-id",
            scope=_own_books,
            on_create=_set_owner,
            on_update=_check_change,
            per_page=10,
            max_per_page=50,
        ),
    ]


@erlen.hookimpl(optionalhook=True)
def erlen_auth_permissions() -> Mapping[str, str]:
    return {"books.edit": "Create, change and delete books and shelves"}
