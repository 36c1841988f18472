"""A plugin serving its books as a REST resource, each new one filed by a job."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable

from flask import Flask
from pydantic import Field
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

import erlen
import erlen_api
import erlen_db
from erlen_tasks import Job, job

PLUGIN = erlen.Plugin(name="bookshelf", requires=["db", "api", "tasks"])


class Book(erlen_db.Model):
    __tablename__ = "bookshelf_book"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(200))
    read: Mapped[bool] = mapped_column(default=False)
    # Filled in by the job file_book; "key" makes the name look like a secret's.
    sort_key: Mapped[str | None] = mapped_column(String(200))


@job()
def file_book(book_id: int) -> None:
    """Store the key a shelf sorts the book by: author's last name, title."""
    book = erlen_db.session.get(Book, book_id)
    if book is not None:
        book.sort_key = f"{book.author.split()[-1]} {book.title}".casefold()


def enqueue_filing(book: Book) -> None:
    """Enqueue the new book's job: flushed, the book has its id."""
    file_book.enqueue(book.id)


@erlen.hookimpl
def erlen_db_models() -> Iterable[type[t.Any]]:
    return [Book]


@erlen.hookimpl
def erlen_tasks_jobs() -> Iterable[Job]:
    return [file_book]


@erlen.hookimpl
def erlen_api_resources(app: Flask) -> Iterable[erlen_api.Resource]:
    return [
        erlen_api.Resource(
            Book,
            name="books",
            not_secret=["sort_key"],
            read_only=["sort_key"],
            # Beyond the columns' types and lengths: no empty title.
            constraints={"title": Field(min_length=1)},
            after_create=enqueue_filing,
        )
    ]
