"""ORM rows answered from their loaded values (their ``__dict__``), with the same JSON as from their attributes."""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed: these tests run in nox's integration session")

from sqlalchemy import String, create_engine, select, text
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, Session, mapped_column

import erlen_api
from erlen_api import ResponseValidationError
from erlen_api.loaded_rows import LoadedRows


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "things"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    size: Mapped[int]

    @property
    def label(self) -> str:
        return f"{self.name} ({self.size})"


class OtherThing(Thing):
    """Another class in the table (single-table inheritance)."""


class ThingOut(BaseModel):
    id: int
    name: str
    size: int


class LabelledOut(BaseModel):
    id: int
    label: str


class AliasedOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)  # the check of the JSON reads "title"

    id: int
    title: str = Field(validation_alias="name")


class ForbiddingOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    name: str


class KeepingOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    name: str


class SmallOut(BaseModel):
    id: int
    size: int = Field(le=3)


class NamedOut(BaseModel):
    """As strict as its column, String(40): a longer name stored breaks the column's own declaration."""

    id: int
    name: str = Field(max_length=40)


class MisserialisedOut(BaseModel):
    """Validates every row, then writes what it does not read back: the model's fault, not the rows'."""

    id: int
    size: int

    @field_serializer("size")
    def size_as_text(self, size: int) -> str:
        return f"{size} units"


class SeeingOut(BaseModel):
    """A model validator that runs before the fields: it must see the instance."""

    id: int
    seen: str = ""

    @model_validator(mode="before")
    @classmethod
    def note_input(cls, data: t.Any) -> t.Any:
        if isinstance(data, dict):  # the check of the JSON produced
            return data
        return {"id": data.id, "seen": type(data).__name__}


EXPECTED = [{"id": n, "name": f"thing {n}", "size": n} for n in range(1, 6)]


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as made:
        made.add_all(Thing(**row) for row in EXPECTED)
        made.commit()
    with Session(engine, expire_on_commit=False) as made:
        yield made
    engine.dispose()


@pytest.fixture
def rows_app(make_app: t.Any, session: Session) -> t.Any:
    """An app whose views answer the rows of ``session``, in several response models."""
    api = erlen_api.Api("rows", version="v1")

    def rows() -> t.Sequence[Thing]:
        return session.scalars(select(Thing).order_by(Thing.id)).all()

    @api.get("/things")
    def things() -> list[ThingOut]:
        return list(rows())

    @api.get("/sequence")
    def sequence() -> t.Sequence[ThingOut]:
        return list(rows())

    @api.get("/things/<int:id>")
    def thing(id: int) -> ThingOut:
        return t.cast(Thing, session.get(Thing, id))

    @api.get("/labelled")
    def labelled() -> list[LabelledOut]:
        return list(rows())

    @api.get("/aliased")
    def aliased() -> list[AliasedOut]:
        return list(rows())

    @api.get("/forbidding")
    def forbidding() -> list[ForbiddingOut]:
        return list(rows())

    @api.get("/keeping")
    def keeping() -> list[KeepingOut]:
        return list(rows())

    @api.get("/seeing")
    def seeing() -> list[SeeingOut]:
        return list(rows())

    @api.get("/small")
    def small() -> list[SmallOut]:
        return list(rows())

    @api.get("/named")
    def named() -> list[NamedOut]:
        return list(rows())

    @api.get("/misserialised")
    def misserialised() -> list[MisserialisedOut]:
        return list(rows())

    @api.get("/made")
    def made() -> list[SmallOut]:
        return [SmallOut.model_construct(id=1, size=9)]

    @api.get("/new")
    def new() -> ThingOut:
        return Thing(id=9, name="unsaved", size=1)

    @api.get("/new-too-big")
    def new_too_big() -> SmallOut:
        return Thing(id=9, name="unsaved", size=9)

    @api.get("/added-too-big")
    def added_too_big() -> SmallOut:
        thing = Thing(id=10, name="pending", size=9)
        session.add(thing)  # pending: not flushed, nothing stored
        return thing

    app = make_app(["api"], {"TESTING": True})  # responses checked, exceptions raised
    app.register_blueprint(api)
    return app


def counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the reads of mapped attributes through SQLAlchemy's instrumented attributes."""
    reads: list[str] = []
    original = InstrumentedAttribute.__get__

    def counted(self: t.Any, instance: t.Any, owner: t.Any) -> t.Any:
        if instance is not None:
            reads.append(self.key)
        return original(self, instance, owner)

    monkeypatch.setattr(InstrumentedAttribute, "__get__", counted)
    return reads


def test_loaded_rows_are_validated_from_their_dicts(
    rows_app: t.Any, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    session.scalars(select(Thing)).all()  # loaded before counting
    reads = counting_reads(monkeypatch)
    client = rows_app.test_client()
    listed = client.get("/api/v1/things")
    assert (listed.status_code, listed.json) == (200, EXPECTED)
    read = client.get("/api/v1/things/2")
    assert (read.status_code, read.json) == (200, EXPECTED[1])
    assert client.get("/api/v1/sequence").json == EXPECTED
    # The view's own ordering reads "id"; the response's fields are read from the instances' dicts.
    assert reads == []


def test_expired_attributes_are_loaded_as_before(rows_app: t.Any, session: Session) -> None:
    rows = session.scalars(select(Thing).order_by(Thing.id)).all()
    session.expire(rows[2], ["name"])
    session.expire(rows[0])
    assert "name" not in rows[2].__dict__
    assert rows_app.test_client().get("/api/v1/things").json == EXPECTED
    assert rows_app.test_client().get("/api/v1/things/1").json == EXPECTED[0]


def test_fields_that_are_not_columns_are_read_as_attributes(rows_app: t.Any) -> None:
    assert rows_app.test_client().get("/api/v1/labelled").json == [
        {"id": row["id"], "label": f"{row['name']} ({row['size']})"} for row in EXPECTED
    ]


def test_models_that_would_see_the_dict_differently_get_the_instances(rows_app: t.Any) -> None:
    client = rows_app.test_client()
    assert client.get("/api/v1/aliased").json == [{"id": row["id"], "title": row["name"]} for row in EXPECTED]
    assert client.get("/api/v1/forbidding").json == [{"id": row["id"], "name": row["name"]} for row in EXPECTED]
    assert client.get("/api/v1/keeping").json == [{"id": row["id"], "name": row["name"]} for row in EXPECTED]
    assert client.get("/api/v1/seeing").json == [{"id": row["id"], "seen": "Thing"} for row in EXPECTED]


def test_an_unsaved_instance_reads_its_defaults_from_its_attributes(rows_app: t.Any) -> None:
    assert rows_app.test_client().get("/api/v1/new").json == {"id": 9, "name": "unsaved", "size": 1}


def test_a_row_its_own_column_refuses_is_reported_as_from_the_instance(
    rows_app: t.Any, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """Rows as stored that break their own column's declaration (a name longer than its String(40), which SQLite
    keeps) are the data's fault: a problem naming the field, and the log naming each row by its key (found from
    the instances, not their dicts)."""
    session.execute(text("UPDATE things SET name = :name WHERE id IN (4, 5)"), {"name": "n" * 41})
    response = rows_app.test_client().get("/api/v1/named")
    assert (response.status_code, response.mimetype) == (500, "application/problem+json")
    assert response.json["type"] == "urn:erlen:problem:stored-value-invalid"
    assert (response.json["resource"], response.json["fields"]) == ("Thing", ["name"])
    (logged,) = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert "Thing key 4: name (string_too_long); Thing key 5: name (string_too_long)" in logged


def test_a_response_model_narrower_than_its_columns_is_the_views_error(
    rows_app: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Stored values the column allows (sizes 4 and 5 in an Integer column) that the response model refuses
    (le=3) are a programming error in the view's type, not bad data: in tests and debug the developer gets a
    ResponseValidationError saying which fields are narrower than their columns; in production the client gets
    the 500 problem of any error of the server's, and no operator is sent to correct rows that are right."""
    with pytest.raises(ResponseValidationError, match=r"refuse values their columns allow: Thing\.size \(key 4\)"):
        rows_app.test_client().get("/api/v1/small")
    rows_app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)
    response = rows_app.test_client().get("/api/v1/small")
    assert (response.status_code, response.mimetype) == (500, "application/problem+json")
    assert response.json["type"] == "about:blank"
    assert b"stored" not in response.data and b"Traceback" not in response.data
    assert not [record for record in caplog.records if "correct them" in record.getMessage()]


def test_a_value_the_view_made_is_still_the_views_error(rows_app: t.Any) -> None:
    """Only the rows' own values are stored faults: a dict the view built that its type refuses is its bug."""
    with pytest.raises(ResponseValidationError):
        rows_app.test_client().get("/api/v1/made")
    # Rows that validated, written as the model's own serialiser says, which its schema refuses.
    with pytest.raises(ResponseValidationError):
        rows_app.test_client().get("/api/v1/misserialised")
    # Instances the view made and did not save hold the view's values, not stored ones.
    for path in ("/api/v1/new-too-big", "/api/v1/added-too-big"):
        with pytest.raises(ResponseValidationError):
            rows_app.test_client().get(path)


def test_the_reader_takes_only_plain_mapped_instances(session: Session) -> None:
    rows = list(session.scalars(select(Thing).order_by(Thing.id)).all())
    reader = LoadedRows(ThingOut)
    dicts = reader.dicts_of(rows)
    assert dicts is not None and all(found is row.__dict__ for found, row in zip(dicts, rows, strict=True))
    assert reader.dict_of(rows[0]) is rows[0].__dict__
    assert reader.dicts_of([]) is None
    assert reader.dicts_of([*rows, OtherThing(id=7, name="other", size=1)]) is None
    assert reader.dicts_of([{"id": 1, "name": "a", "size": 1}]) is None  # not mapped: validated as it is
    session.expire(rows[1], ["size"])
    assert reader.dicts_of(rows) is None
    assert LoadedRows(LabelledOut).dicts_of(rows[:1]) is None
    assert LoadedRows(AliasedOut).dicts_of(rows[:1]) is None
    assert LoadedRows(SeeingOut).dicts_of(rows[:1]) is None
    assert LoadedRows(ForbiddingOut).dicts_of(rows[:1]) is None
