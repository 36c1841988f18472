"""The schemas of a resource, derived from its SQLAlchemy model: what a client reads, creates and changes.

From each mapped column:

* its Python type (SQLAlchemy's), enums as their members (an ``Enum``
  of a Python enum, or a ``Literal`` of the allowed strings);
* its nullability: ``T | None`` when the column takes ``NULL``;
* its limits: ``maxLength`` of ``String(n)``, the integers the column stores
  on the app's database, ``Numeric(p, s)``'s digits; strings never hold the
  NUL character, which PostgreSQL refuses;
* whether a client may write it: primary keys never change, and an
  autoincremented key, a column with a server default and the resource's
  ``read_only`` columns are the server's alone;
* whether it is required on create: ``NOT NULL`` without a default.

Secret columns (``password_hash``, ``api_key``...) are left out of every
schema by the rule erlen-forms and erlen-admin use, :func:`erlen_forms.model_forms.is_sensitive`,
unless the resource names them in ``not_secret`` (a ``sort_key`` or a ``token_count`` holds no secret).
"""

from __future__ import annotations

import datetime
import enum
import typing as t
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model
from sqlalchemy import types as satypes
from sqlalchemy.orm import Mapper

from .nul_text import NO_NUL_PATTERN


class ModelSchemaError(TypeError):
    """A model cannot be a resource as declared (a composite key, an unknown column name...)."""


def is_secret(name: str) -> bool:
    """Whether a column named ``name`` holds a secret, by erlen-forms' rule (the one erlen-admin uses too).

    :param name: the column's or attribute's name.
    """
    from erlen_forms import is_sensitive

    return is_sensitive(name)


@dataclass(frozen=True)
class ColumnField:
    """What a resource knows of one column of its model.

    :param key: the attribute's name on the model, and the field's name in the schemas.
    :param column: the column.
    :param annotation: the field's type, without ``None`` (and its constraints, in ``Annotated``).
    :param python_type: the Python type of the column's values (``None``: unknown).
    :param nullable: whether it takes ``null``.
    :param primary_key: whether it is (part of) the primary key.
    :param writable_on_create: whether a client may send it when creating.
    :param writable_on_update: whether a client may change it.
    :param required_on_create: whether a create must send it.
    """

    key: str
    column: sa.Column[t.Any]
    annotation: t.Any
    python_type: type | None
    nullable: bool
    primary_key: bool
    writable_on_create: bool
    writable_on_update: bool
    required_on_create: bool

    @property
    def orderable(self) -> bool:
        """Whether a list may be sorted by it (through an index, with a cursor): not nullable, of a known type."""
        return not self.nullable and self.python_type is not None


def _type_of(column: sa.Column[t.Any], dialect: str | None) -> tuple[t.Any, type | None]:
    """The pydantic type of ``column``'s values, with its constraints, and its Python type.

    :param column: the column.
    :param dialect: the app's database dialect (for the range of integers), or ``None``.
    """
    from erlen_db import integer_range, python_type_of

    column_type = column.type
    if isinstance(column_type, satypes.Enum):
        if column_type.enum_class is not None:
            return column_type.enum_class, column_type.enum_class
        return t.Literal[tuple(column_type.enums)], str
    python_type = python_type_of(column)
    if python_type is None:
        return t.Any, None
    if python_type is bool:
        return bool, bool
    if python_type is int:
        bounds = integer_range(column, dialect)
        return t.Annotated[int, Field(ge=bounds.start, le=bounds.stop - 1)], int
    if python_type is str:
        length = getattr(column_type, "length", None)
        return t.Annotated[str, Field(max_length=length, pattern=NO_NUL_PATTERN)], str
    if isinstance(column_type, satypes.Numeric) and not isinstance(column_type, satypes.Float):
        precision, scale = column_type.precision, column_type.scale
        if column_type.asdecimal and precision is not None:
            limits = Field(max_digits=precision, decimal_places=scale)
            schema = WithJsonSchema(decimal_json_schema(precision, scale or 0), mode="validation")
            return t.Annotated[python_type, limits, schema], python_type
        return python_type, python_type
    if python_type is float:
        return t.Annotated[float, Field(allow_inf_nan=False)], float
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        return python_type, python_type
    if python_type is datetime.datetime and getattr(column_type, "timezone", False):
        return datetime.datetime, python_type
    return python_type, python_type


def column_value_type(column: sa.Column[t.Any], dialect: str | None) -> t.Any:
    """The pydantic type of the non-null values ``column`` may hold, with the limits its declaration sets.

    :param column: the column.
    :param dialect: the database's dialect (for the range of integers), or ``None``.
    :raises ImportError: erlen-db, which reads the limits, is not installed.
    """
    annotation, _ = _type_of(column, dialect)
    return annotation


def decimal_json_schema(precision: int, scale: int) -> dict[str, t.Any]:
    """The JSON Schema of what a client may send for a ``Numeric(precision, scale)`` column.

    A decimal string of at most ``precision - scale`` digits before the point and ``scale`` after it,
    such as ``"-12.50"``: pydantic's own schema for such a ``Decimal`` (any number or any string) states
    neither limit, so clients and contract tests would send values answered by a 422. A JSON number within
    the same limits is still accepted; the document names the string, which keeps every digit.

    :param precision: the column's total number of digits.
    :param scale: its digits after the decimal point.
    """
    whole = precision - scale
    integer = rf"\d{{1,{whole}}}" if whole > 0 else "0"
    fraction = rf"(\.\d{{1,{scale}}})?" if scale > 0 else ""
    return {
        "type": "string",
        "pattern": f"^[+-]?{integer}{fraction}$",
        "description": f"A decimal number, as a string: at most {whole} digits before the point and {scale} after.",
    }


def column_fields(
    model: type[t.Any],
    *,
    fields: Collection[str] | None = None,
    exclude: Collection[str] = (),
    read_only: Collection[str] = (),
    not_secret: Collection[str] = (),
    dialect: str | None = None,
) -> dict[str, ColumnField]:
    """The fields of ``model`` a resource exposes, by attribute name, in the order of the table's columns.

    :param model: a mapped class.
    :param fields: the attributes to expose; all but secrets by default.
    :param exclude: attributes to leave out.
    :param read_only: attributes clients may read but never write.
    :param not_secret: attributes whose names look like secrets by erlen-forms' rule (``sort_key``,
        ``token_count``) but hold none: exposed like any other column.
    :param dialect: the app's database dialect (for the range of integers).
    :raises ModelSchemaError: a name that is no column attribute, a secret column asked for (in ``fields`` or
        ``read_only``), or a model whose primary key has several columns.
    """
    mapper = t.cast(Mapper[t.Any], sa.inspect(model))
    name = model.__name__
    if len(mapper.primary_key) != 1:
        raise ModelSchemaError(
            f"The model {name} has a primary key of {len(mapper.primary_key)} columns; a resource needs one."
        )
    attributes = {prop.key: prop for prop in mapper.column_attrs if len(prop.columns) == 1}
    options = (("fields", fields or ()), ("exclude", exclude), ("read_only", read_only), ("not_secret", not_secret))
    for option, names in options:
        unknown = [key for key in names if key not in attributes]
        if unknown:
            raise ModelSchemaError(
                f"The resource of {name}: {option} names {', '.join(map(repr, unknown))}, which {name} has no column "
                f"attribute of. Its columns: {', '.join(attributes)}."
            )
    # Named in read_only, a hidden secret would vanish from the resource without a word: say why instead.
    for option, names in (("fields", fields or ()), ("read_only", read_only)):
        secret = [key for key in names if key not in not_secret and _looks_secret(key, attributes[key])]
        if secret:
            raise ModelSchemaError(
                f"The resource of {name}: {option} names {', '.join(map(repr, secret))}, whose names look like "
                "secrets (by erlen-forms' is_sensitive rule), which a resource never exposes. Remove them from "
                f"{option}; or, if they hold no secret, list them in not_secret to expose them."
            )
    found: dict[str, ColumnField] = {}
    for key, prop in attributes.items():
        column = t.cast(sa.Column[t.Any], prop.columns[0])
        if not isinstance(column, sa.Column) or (key not in not_secret and _looks_secret(key, prop)):
            continue
        if (fields is not None and key not in fields) or key in exclude:
            continue
        annotation, python_type = _type_of(column, dialect)
        generated = column.server_default is not None or column.computed is not None or column.identity is not None
        autoincrement = column.primary_key and column is column.table._autoincrement_column
        has_default = column.default is not None or generated or autoincrement
        writable_on_create = not (generated or autoincrement or key in read_only)
        found[key] = ColumnField(
            key=key,
            column=column,
            annotation=annotation,
            python_type=python_type,
            nullable=bool(column.nullable) and not column.primary_key,
            primary_key=column.primary_key,
            writable_on_create=writable_on_create,
            writable_on_update=writable_on_create and not column.primary_key,
            required_on_create=writable_on_create and not column.nullable and not has_default,
        )
    keys = [key for key, field in found.items() if field.primary_key]
    if not keys:
        raise ModelSchemaError(f"The resource of {name} must expose the primary key; do not exclude it.")
    return found


def _looks_secret(key: str, prop: t.Any) -> bool:
    """Whether the column attribute ``key`` looks like a secret, by its attribute's name or its column's.

    :param key: the attribute's name.
    :param prop: its column property.
    """
    return is_secret(key) or is_secret(str(prop.columns[0].name))


def _no_default(schema: dict[str, t.Any]) -> None:
    """Leave ``default`` out of a field's JSON Schema: an optional field of a change has no default."""
    schema.pop("default", None)


@dataclass(frozen=True)
class ResourceSchemas:
    """The pydantic models of a resource.

    :param read: what a read, a list and a write answer: every exposed field.
    :param create: the body of a create.
    :param update: the body of a change (PATCH): every field optional, ``null`` only where the column takes it.
    """

    read: type[BaseModel]
    create: type[BaseModel]
    update: type[BaseModel]


def build_schemas(
    schema_name: str,
    fields: dict[str, ColumnField],
    *,
    module: str,
    constraints: Mapping[str, t.Any] | None = None,
) -> ResourceSchemas:
    """The models of a resource named ``schema_name`` (``Note``, ``NoteCreate``, ``NoteUpdate``).

    :param schema_name: the name of the read schema; the others add ``Create`` and ``Update``.
    :param fields: the exposed fields, from :func:`column_fields`.
    :param module: the module the models say they come from (the plugin's), which tells apart models of the
        same name in the OpenAPI document.
    :param constraints: pydantic constraints the inputs of a field must meet besides its column's, by field
        (``{"title": Field(min_length=1)}``; a list for several, such as ``AfterValidator(...)`` beside them).
        They check what clients write, not what reads answer: rows stored before keep being served.
    :raises ModelSchemaError: a constraint of a field clients never write.
    """
    constraints = dict(constraints or {})
    unwritable = [key for key in constraints if not (key in fields and fields[key].writable_on_update)]
    unwritable = [key for key in unwritable if not (key in fields and fields[key].writable_on_create)]
    if unwritable:
        raise ModelSchemaError(
            f"The resource of {schema_name}: constraints names {', '.join(map(repr, unwritable))}, which clients "
            "never write (constraints check what they send). Fields they write: "
            f"{', '.join(key for key, item in fields.items() if item.writable_on_create or item.writable_on_update)}."
        )
    read_fields: dict[str, t.Any] = {}
    create_fields: dict[str, t.Any] = {}
    update_fields: dict[str, t.Any] = {}
    for key, field in fields.items():
        annotation = field.annotation | None if field.nullable else field.annotation
        read_fields[key] = (annotation, ...)
        if key in constraints:
            extra = constraints[key]
            metadata = tuple(extra) if isinstance(extra, list | tuple) else (extra,)
            # Annotated of a runtime tuple: pydantic merges these constraints with the column's own.
            constrained: t.Any = t.Annotated.__class_getitem__((field.annotation, *metadata))  # type: ignore[attr-defined]
            annotation = constrained | None if field.nullable else constrained
        if field.writable_on_create:
            create_fields[key] = (annotation, ... if field.required_on_create else None)
            if not field.required_on_create and not field.nullable:
                create_fields[key] = (annotation, Field(default=None, json_schema_extra=_no_default))
        if field.writable_on_update:
            update_fields[key] = (annotation, Field(default=None, json_schema_extra=_no_default))
    read = create_model(schema_name, __config__=ConfigDict(from_attributes=True), __module__=module, **read_fields)
    inputs = ConfigDict(extra="forbid")
    create = create_model(f"{schema_name}Create", __config__=inputs, __module__=module, **create_fields)
    update = create_model(f"{schema_name}Update", __config__=inputs, __module__=module, **update_fields)
    return ResourceSchemas(read=read, create=create, update=update)
