"""Rows whose columns are of a type of the app's own (a ``TypeDecorator`` answering its own class), refused by a
response model: whose fault it is must be told without knowing that type."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed: these tests run in nox's integration session")

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import erlen_api
from erlen_api import ResponseValidationError


class PhoneNumber:
    """A value class of the app's own, which pydantic has no schema for."""

    def __init__(self, digits: str) -> None:
        self.digits = digits


class PhoneNumberType(sa.types.TypeDecorator[PhoneNumber]):
    """Stores a :class:`PhoneNumber` as its digits; SQLAlchemy's ``python_type`` is the class."""

    impl = sa.String(20)
    cache_ok = True

    @property
    def python_type(self) -> type[PhoneNumber]:
        return PhoneNumber

    def process_bind_param(self, value: PhoneNumber | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else value.digits

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> PhoneNumber | None:
        return None if value is None else PhoneNumber(value)


class Base(DeclarativeBase):
    pass


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[PhoneNumber] = mapped_column(PhoneNumberType())


class ContactOut(BaseModel):
    """Wrong for its column: ``phone`` holds a PhoneNumber, not text."""

    id: int
    phone: str


@pytest.fixture
def session() -> Iterator[Session]:
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as made:
        made.add(Contact(id=1, phone=PhoneNumber("5550100")))
        made.commit()
    with Session(engine, expire_on_commit=False) as made:
        yield made
    engine.dispose()


def test_a_value_of_a_column_type_pydantic_cannot_check_is_the_views_error(make_app: t.Any, session: Session) -> None:
    """The column's values are of a class pydantic has no schema for: building a validator of the column's values
    raised PydanticSchemaGenerationError inside the handling of the response's error, a traceback about pydantic's
    schemas instead of the view's mistake. The value is what the column's type itself gives: the response type is
    narrower than the column, a ResponseValidationError naming the field."""
    api = erlen_api.Api("contacts", version="v1")

    @api.get("/contacts")
    def contacts() -> list[ContactOut]:
        return list(session.scalars(sa.select(Contact).order_by(Contact.id)))

    app = make_app(["api"], {"TESTING": True})
    app.register_blueprint(api)
    with pytest.raises(ResponseValidationError, match=r"refuse values their columns allow: Contact\.phone \(key 1\)"):
        app.test_client().get("/api/v1/contacts")
