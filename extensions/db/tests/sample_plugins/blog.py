"""A plugin with tables on a declarative base of its own, and an engine event."""

from __future__ import annotations

import typing as t

from sqlalchemy import String, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import erlen
import erlen_db

PLUGIN = erlen.Plugin(name="blog", requires=["db"])


class BlogBase(DeclarativeBase):
    metadata = erlen_db.naming_metadata()


class Post(BlogBase):
    __tablename__ = "blog_post"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), unique=True)


@erlen.hookimpl
def erlen_db_models() -> list[type[t.Any]]:
    return [BlogBase]


@erlen.hookimpl
def erlen_db_engine_created(app: t.Any, engine: t.Any) -> None:
    connections = app.extensions.setdefault("blog_connections", [])

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: t.Any, record: t.Any) -> None:
        connections.append(dbapi_connection)
