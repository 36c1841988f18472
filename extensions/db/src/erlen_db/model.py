"""The shared declarative base and the naming convention of constraints and indexes."""

from __future__ import annotations

import typing as t

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

#: Names of constraints and indexes, so that migrations compare and drop them by stable names.
NAMING_CONVENTION: t.Final[dict[str, str]] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def naming_metadata(schema: str | None = None) -> MetaData:
    """A new :class:`~sqlalchemy.MetaData` with Erlen's :data:`NAMING_CONVENTION`.

    For a plugin that keeps its tables on a declarative base of its own::

        class Base(DeclarativeBase):
            metadata = erlen_db.naming_metadata()

    :param schema: the default schema of the tables, if any.
    """
    return MetaData(naming_convention=dict(NAMING_CONVENTION), schema=schema)


class Model(DeclarativeBase):
    """The shared declarative base of Erlen models: plain, typed SQLAlchemy 2.

    .. code-block:: python

        class User(erlen_db.Model):
            __tablename__ = "user"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(String(80), unique=True)

    Tables on this base that no plugin claims through ``erlen_db_models``
    belong to the app.
    """

    metadata = naming_metadata()
