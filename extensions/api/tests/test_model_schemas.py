"""The schemas derived from a model: types, nullability, limits, writability, secrets (no database needed)."""

from __future__ import annotations

import decimal
import typing as t

import pytest
from pydantic import ValidationError

for _name in ("erlen_db", "erlen_forms"):
    pytest.importorskip(_name, reason=f"{_name} is not installed: these tests run in nox's integration session")

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column  # noqa: E402

from erlen_api.model_schemas import ModelSchemaError, build_schemas, column_fields, is_secret  # noqa: E402


class Base(DeclarativeBase):
    pass


class Gadget(Base):
    __tablename__ = "gadget"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(10))
    kind: Mapped[str] = mapped_column(sa.Enum("tool", "toy", name="gadget_kind"))
    weight: Mapped[decimal.Decimal | None] = mapped_column(sa.Numeric(4, 1))
    count: Mapped[int] = mapped_column(sa.SmallInteger, server_default="0")
    password_hash: Mapped[str] = mapped_column(sa.String(200), default="")
    monkey: Mapped[str] = mapped_column(sa.Text, default="")


class Pair(Base):
    __tablename__ = "pair"

    left: Mapped[int] = mapped_column(primary_key=True)
    right: Mapped[int] = mapped_column(primary_key=True)


class Shelved(Base):
    """A model whose column ``sort_key`` looks like a secret by its name (``key``) and holds none."""

    __tablename__ = "shelved"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    sort_key: Mapped[str | None] = mapped_column(sa.String(200))


class Slug(Base):
    __tablename__ = "slug"

    code: Mapped[str] = mapped_column(sa.String(8), primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(sa.String(20))


def test_secrets_by_the_forms_rule() -> None:
    from erlen_forms.model_forms import is_sensitive

    for name in ("password_hash", "api_key", "session_token", "salt", "monkey", "keyword", "title"):
        assert is_secret(name) is is_sensitive(name)
    fields = column_fields(Gadget)
    assert list(fields) == ["id", "name", "kind", "weight", "count", "monkey"]  # no password_hash


def test_a_secret_looking_column_named_in_read_only_is_refused_not_dropped() -> None:
    # It was left out of every schema without a word: the resource served no sort_key, read_only or not.
    with pytest.raises(ModelSchemaError, match="read_only names 'sort_key', whose names look like secrets") as caught:
        column_fields(Shelved, read_only=["sort_key"])
    assert "list them in not_secret" in str(caught.value)


def test_columns_named_in_not_secret_are_exposed() -> None:
    fields = column_fields(Shelved, not_secret=["sort_key"], read_only=["sort_key"])
    assert list(fields) == ["id", "title", "sort_key"]
    assert not fields["sort_key"].writable_on_create and not fields["sort_key"].writable_on_update
    schemas = build_schemas("Shelved", fields, module=__name__)
    assert "sort_key" in schemas.read.model_json_schema()["properties"]
    assert "sort_key" not in schemas.create.model_json_schema()["properties"]
    assert list(column_fields(Shelved, fields=["id", "sort_key"], not_secret=["sort_key"])) == ["id", "sort_key"]
    # A real secret stays out unless named.
    assert "password_hash" not in column_fields(Gadget, not_secret=["monkey"])
    with pytest.raises(ModelSchemaError, match="not_secret names 'nope', which Shelved has no column attribute"):
        column_fields(Shelved, not_secret=["nope"])


def _no_shouting(title: str) -> str:
    """A validator of the plugin's own: titles in capitals are refused."""
    if title.isupper():
        raise ValueError("Write the title in mixed case.")
    return title


def test_constraints_check_what_clients_write_not_what_reads_answer() -> None:
    from pydantic import AfterValidator, Field

    constraints = {"title": [Field(min_length=1), AfterValidator(_no_shouting)]}
    schemas = build_schemas("Shelved", column_fields(Shelved), module=__name__, constraints=constraints)
    with pytest.raises(ValidationError) as too_short:
        schemas.create(title="")
    assert [(error["loc"], error["type"]) for error in too_short.value.errors()] == [(("title",), "string_too_short")]
    with pytest.raises(ValidationError, match="Write the title in mixed case"):
        schemas.update(title="LOUD")
    assert schemas.update(title="Quiet").title == "Quiet"  # type: ignore[attr-defined]
    title = schemas.create.model_json_schema()["properties"]["title"]
    assert (title["minLength"], title["maxLength"]) == (1, 200)  # with the column's own
    assert schemas.read(id=1, title="").title == ""  # type: ignore[attr-defined]  # rows stored before are served
    with pytest.raises(ModelSchemaError, match="constraints names 'id', which clients never write"):
        build_schemas("Shelved", column_fields(Shelved), module=__name__, constraints={"id": Field(ge=1)})


def test_what_clients_may_write() -> None:
    fields = column_fields(Gadget, dialect="postgresql")
    assert [key for key, f in fields.items() if f.writable_on_create] == ["name", "kind", "weight", "monkey"]
    assert [key for key, f in fields.items() if f.required_on_create] == ["name", "kind"]
    schemas = build_schemas("Gadget", fields, module=__name__)
    created = schemas.create.model_validate({"name": "saw", "kind": "tool", "weight": "12.5"})
    assert created.model_dump(exclude_unset=True) == {"name": "saw", "kind": "tool", "weight": decimal.Decimal("12.5")}
    with pytest.raises(ValidationError) as caught:
        schemas.create.model_validate({"name": "x" * 11, "kind": "car", "weight": "1234.5", "count": 3})
    assert sorted(error["type"] for error in caught.value.errors()) == [
        "decimal_max_digits",
        "extra_forbidden",
        "literal_error",
        "string_too_long",
    ]
    changed = schemas.update.model_validate({"weight": None})
    assert changed.model_dump(exclude_unset=True) == {"weight": None}
    with pytest.raises(ValidationError):
        schemas.update.model_validate({"name": None})  # NOT NULL
    read = schemas.read.model_validate(Gadget(id=1, name="saw", kind="tool", weight=None, count=0, monkey=""))
    assert read.model_dump() == {"id": 1, "name": "saw", "kind": "tool", "weight": None, "count": 0, "monkey": ""}


def test_a_key_the_client_chooses_is_written_on_create_only() -> None:
    fields = column_fields(Slug)
    assert fields["code"].writable_on_create and fields["code"].required_on_create
    assert not fields["code"].writable_on_update
    schemas = build_schemas("Slug", fields, module=__name__)
    assert schemas.create.model_validate({"code": "abc", "label": "A"}).model_dump() == {"code": "abc", "label": "A"}
    assert "code" not in schemas.update.model_fields


def test_the_range_of_integers_depends_on_the_database() -> None:
    fields = column_fields(Gadget, dialect="postgresql")
    read = build_schemas("Gadget", fields, module=__name__).read
    assert read.model_json_schema()["properties"]["count"]["maximum"] == 2**15 - 1
    sqlite = build_schemas("Gadget", column_fields(Gadget, dialect="sqlite"), module=__name__).read
    assert sqlite.model_json_schema()["properties"]["count"]["maximum"] == 2**63 - 1


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        (Pair, {}, "a primary key of 2 columns; a resource needs one"),
        (Gadget, {"fields": ["id", "password_hash"]}, "fields names 'password_hash', whose names look like secrets"),
        (Gadget, {"read_only": ["colour"]}, "read_only names 'colour'"),
        (Gadget, {"exclude": ["id"]}, "must expose the primary key"),
    ],
)
def test_models_that_cannot_be_resources(model: type, options: dict[str, t.Any], message: str) -> None:
    with pytest.raises(ModelSchemaError, match=message):
        column_fields(model, **options)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("12.5", True),
        ("-999.9", True),
        ("+0.5", True),
        ("7", True),
        ("current-password", False),  # any string, by pydantic's schema: a 422 the document did not announce
        ("1234.5", False),
        ("1.25", False),
        ("1e2", False),
        ("NaN", False),
        ("", False),
    ],
)
def test_the_document_states_a_decimal_columns_digits(value: str, valid: bool) -> None:
    """Every decimal string the create schema's JSON Schema allows for ``Numeric(4, 1)`` is accepted, and only those.

    Found by the contract tests: the document allowed any string and any number for such a column.
    """
    import jsonschema

    schemas = build_schemas("Gadget", column_fields(Gadget), module=__name__)
    document = schemas.create.model_json_schema()
    weight = {**document["properties"]["weight"], "$defs": document.get("$defs", {})}
    allowed = jsonschema.Draft202012Validator(weight).is_valid(value)
    assert allowed is valid
    try:
        schemas.create.model_validate({"name": "saw", "kind": "tool", "weight": value})
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted or not allowed, f"{value!r} is allowed by the document but refused"
