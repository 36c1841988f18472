"""A plugin with models, for the model-form tests (needs erlen-db)."""

from __future__ import annotations

import datetime
import decimal
import enum
import typing as t
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import erlen
import erlen_db

PLUGIN = erlen.Plugin(name="modelsample", requires=["db", "forms"])


class Base(DeclarativeBase):
    metadata = erlen_db.naming_metadata()


class Status(enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"


class Author(Base):
    __tablename__ = "ft_author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(120))
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))

    def __str__(self) -> str:
        return self.name


class Post(Base):
    __tablename__ = "ft_post"
    # A refusal of the database that no field validator foresees, for the tests of ModelForm.save.
    __table_args__ = (sa.CheckConstraint("views >= 0", name="views_not_negative"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), comment="Shown in lists")
    slug: Mapped[str | None] = mapped_column(sa.String(50), unique=True)
    body: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[Status] = mapped_column(sa.Enum(Status))
    kind: Mapped[str | None] = mapped_column(sa.Enum("note", "article", name="post_kind"))
    views: Mapped[int]
    rating: Mapped[float | None]
    price: Mapped[decimal.Decimal | None] = mapped_column(sa.Numeric(10, 2))
    published: Mapped[bool] = mapped_column(default=False)
    published_on: Mapped[datetime.date | None]
    created: Mapped[datetime.datetime | None]
    at: Mapped[datetime.time | None]
    ref: Mapped[uuid.UUID | None]
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("ft_author.id"))
    editor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ft_author.id"))


class Event(Base):
    __tablename__ = "ft_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    starts_at: Mapped[datetime.datetime] = mapped_column(sa.DateTime(timezone=True))
    noted_at: Mapped[datetime.datetime | None]  # naive: DateTime()


class Odd(Base):
    __tablename__ = "ft_odd"
    id: Mapped[int] = mapped_column(primary_key=True)
    blob: Mapped[bytes | None] = mapped_column(sa.LargeBinary)


@erlen.hookimpl
def erlen_db_models() -> t.Any:
    return [Base]
