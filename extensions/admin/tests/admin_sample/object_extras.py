"""A plugin using the admin's extension points for one object: object actions, panels, a query filter,
a permission of its own for editing, and a create form and save of its own (a ModelView subclass)."""

from __future__ import annotations

import typing as t
from pathlib import Path

import sqlalchemy as sa
from flask import request

import erlen

PLUGIN = erlen.Plugin(name="object_extras", requires=["admin"])


def rename(view: t.Any, book: t.Any) -> t.Any:
    from erlen_admin import ActionOutcome, ActionRefused

    title = request.form.get("title", "").strip()
    if not title:
        raise ActionRefused("Give a title.")
    book.title = title
    return ActionOutcome(f"Renamed to {title}.", {"reason": [None, request.form.get("reason", "")]})


def feature(view: t.Any, book: t.Any) -> None:
    book.featured = True


def crash(view: t.Any, book: t.Any) -> None:
    book.featured = True
    raise RuntimeError("the plugin's bug")


def refuse_all(view: t.Any, books: t.Sequence[t.Any]) -> None:
    from erlen_admin import ActionRefused

    for book in books:
        book.featured = True
    raise ActionRefused("Shelves are full.")


def long_books(statement: sa.Select[t.Any], value: str) -> sa.Select[t.Any]:
    from admin_sample.library import Book

    return statement.where(Book.pages >= 300 if value == "1" else Book.pages < 300)


def panel_context(view: t.Any, book: t.Any) -> dict[str, t.Any]:
    return {"shout": book.title.upper()}


@erlen.hookimpl
def erlen_auth_permissions() -> dict[str, str]:
    return {"object_extras.curate": "Curate the shelf"}


@erlen.hookimpl
def erlen_template_folders() -> list[str]:
    return [str(Path(__file__).parent / "templates")]


@erlen.hookimpl
def erlen_admin_views() -> list[t.Any]:
    from wtforms import StringField
    from wtforms.validators import DataRequired

    from admin_sample.library import Author, Book
    from erlen_admin import Action, ModelView, ObjectAction, Panel, QueryFilter
    from erlen_forms import Form

    class QuickBook(Form):
        title = StringField("Title", [DataRequired()])

    class Shelf(ModelView):
        def create_form_class(self) -> t.Any:
            return QuickBook

        def create_object(self, form: t.Any, session: t.Any) -> t.Any:
            author = session.scalar(sa.select(Author).order_by(Author.id))
            book = Book(title=form.title.data.strip() + " (shelved)", pages=1, author_id=author.id)
            session.add(book)
            return book

    return [
        Shelf(
            Book,
            slug="shelf",
            list_columns=["title", "pages"],
            filters=["featured", QueryFilter("long", "Long", (("1", "Yes"), ("0", "No")), long_books)],
            permissions={"edit": "object_extras.curate"},
            actions=[Action("refuse", "Refuse", refuse_all, permission="edit", confirm=False)],
            object_actions=[
                ObjectAction("rename", "Rename", rename, button=False),
                ObjectAction("feature", "Feature", feature, available=lambda book: not book.featured),
                ObjectAction("crash", "Crash", crash, danger=True),
            ],
            panels=[Panel("Loud title", "object_extras/panel.html", context=panel_context)],
        )
    ]
