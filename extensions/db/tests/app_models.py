"""The test app's own models, on the shared base: they belong to the app; and a view the lone-reads tests share."""

from __future__ import annotations

import datetime

from flask import Flask
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from erlen_db import Model


class Author(Model):
    __tablename__ = "author"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    books: Mapped[list[Book]] = relationship(back_populates="author")


class Book(Model):
    __tablename__ = "book"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    published: Mapped[datetime.date]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author] = relationship(back_populates="books")


def add_rename_view(app: Flask) -> None:
    """``POST /authors/<id>/<name>``: a read, a write flushed, then a commit, or a failure after the write
    when ``name`` is ``"fail"`` (the write must then be rolled back)."""
    import erlen_db

    @app.post("/authors/<int:id>/<name>")
    def rename(id: int, name: str) -> str:
        author = erlen_db.get_or_404(Author, id)
        author.name = name
        erlen_db.session.flush()
        if name == "fail":
            raise RuntimeError("the request fails after its write")
        erlen_db.session.commit()
        return author.name
