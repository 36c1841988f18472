"""A sample plugin with models, admin views, a custom page and a bulk action (and the app's own via the same hook)."""

from __future__ import annotations

import enum
import typing as t

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

import erlen
from erlen_db import Model

PLUGIN = erlen.Plugin(name="library", requires=["db", "admin"])


class Status(enum.Enum):
    draft = "Draft"
    published = "Published"


class Author(Model):
    __tablename__ = "library_author"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True, index=True)

    def __str__(self) -> str:
        return self.name


class Book(Model):
    __tablename__ = "library_book"
    # A rule only the database knows (no form validator checks it), for the tests of refused saves.
    __table_args__ = (sa.CheckConstraint("pages >= 0", name="pages_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), index=True)
    pages: Mapped[int] = mapped_column(default=100, index=True)
    status: Mapped[Status] = mapped_column(sa.Enum(Status), default=Status.draft)
    featured: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str | None] = mapped_column(sa.Text())
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("library_author.id"))
    author: Mapped[Author] = relationship()

    def __str__(self) -> str:
        return self.title


class Biography(Model):
    """One per author, keyed by the author's id: a primary key that is also a foreign key."""

    __tablename__ = "library_biography"

    author_id: Mapped[int] = mapped_column(sa.ForeignKey("library_author.id"), primary_key=True)
    text: Mapped[str] = mapped_column(sa.Text(), default="")
    author: Mapped[Author] = relationship()


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [Author, Book, Biography]


def publish(view: t.Any, objects: t.Sequence[Book]) -> str:
    for book in objects:
        book.status = Status.published
    return f"Published {len(objects)}."


def stats() -> str:
    from flask import render_template_string

    return render_template_string(
        '{% extends "admin/base.html" %}{% block content %}<h1>Library statistics</h1>{% endblock %}'
    )


@erlen.hookimpl
def erlen_admin_views() -> list[t.Any]:
    from erlen_admin import Action, AdminPage, ModelView

    return [
        ModelView(Author, list_columns=["id", "name"], sortable=["name"], search=["name"]),
        ModelView(
            Book,
            list_columns=["id", "title", "pages", "status", "author_id"],
            sortable=["title", "pages"],
            search=["title"],
            filters=["status", "featured", "author_id"],
            actions=[Action("publish", "Publish", publish, permission="edit", confirm=False)],
        ),
        ModelView(Biography, plural="Biographies", list_columns=["author_id", "text"], filters=["author_id"]),
        AdminPage("Statistics", stats),
    ]
