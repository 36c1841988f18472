"""Rows as stored that their response schema refuses: a 500 problem naming the fields, and an error in the log.

A row written by plain SQL, by another program or by an older version of the
app can hold what the schema of its answers refuses: a title longer than its
``maxLength``, text in an integer column of SQLite. The client can do nothing
about it, so it is a 500, but not an unexpected one: the answer is a problem
document of type ``urn:erlen:problem:stored-value-invalid`` naming the
resource and the fields (never the values, which may be anyone's data), and
the log holds one error naming the resource, the row's primary key and the
fields, for an operator to correct the row.

Only a value its own column's declaration refuses is the data's fault; a
response schema narrower than its columns, refusing values they allow, is the
view's (:class:`NarrowerThanColumns`, raised as a
:class:`~erlen_api.ResponseValidationError` explaining it).

A write whose answer fails so is not committed (see
:func:`erlen_api.conflicts.save`): the error answer is true.
"""

from __future__ import annotations

import sys
import typing as t
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask import current_app, request
from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError

import erlen

from .problems import PROBLEM_TYPES, problem_response

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response


@dataclass(frozen=True)
class RowFault:
    """A stored row whose values its response schema refuses.

    :param model: the row's mapped class.
    :param identity: its primary key, as text (``3``, or ``(1, 2)`` for a composite key); ``?`` when unsaved.
    :param fields: the refused fields, in the schema's names (``title``).
    :param errors: pydantic's error type of each refused field (``string_too_long``), in the same order.
    """

    model: type
    identity: str
    fields: tuple[str, ...]
    errors: tuple[str, ...]


class StoredValueError(Exception):
    """Rows as stored that the response schema refuses; answered with a 500 ``stored-value-invalid`` problem.

    :param faults: each refused row, with its fields.
    :param resource: the resource's name (``books``), when the caller knows it; otherwise the answer names the
        :class:`~erlen_api.Resource` serving the rows' class, or the class.
    """

    def __init__(self, faults: Sequence[RowFault], resource: str | None = None) -> None:
        self.faults = tuple(faults)
        self.resource = resource
        rows = "; ".join(f"key {fault.identity}: {', '.join(fault.fields)}" for fault in self.faults)
        super().__init__(
            f"Stored rows of {resource or self.faults[0].model.__name__} hold values its response schema refuses "
            f"({rows})."
        )

    @property
    def fields(self) -> list[str]:
        """The refused fields of all the rows, each once, in the order met."""
        return list(dict.fromkeys(name for fault in self.faults for name in fault.fields))


def _identity(instance: t.Any) -> str:
    """The primary key of the mapped ``instance``, as text.

    :param instance: a mapped instance.
    """
    import sqlalchemy as sa

    key = sa.inspect(instance).identity
    if key is None:
        return "?"
    return str(key[0]) if len(key) == 1 else "(" + ", ".join(map(str, key)) + ")"


def _is_stored(value: t.Any) -> bool:
    """Whether ``value`` is an instance of a SQLAlchemy mapped class read from or written to the database.

    An instance never flushed (transient, or pending in the session) holds what the view made: its values are
    the view's, not the data's.

    :param value: anything.
    """
    if "sqlalchemy" not in sys.modules or isinstance(value, (str, bytes, int, float, Mapping, Sequence)):
        return False  # without SQLAlchemy loaded, nothing is mapped
    import sqlalchemy as sa
    from sqlalchemy.orm import InstanceState

    state = sa.inspect(value, raiseerr=False)
    return isinstance(state, InstanceState) and state.has_identity


def _step(value: t.Any, part: str | int) -> t.Any:
    """The item or attribute ``part`` of ``value``, as pydantic's error location names it; ``None`` if none.

    :param value: a value validated into the response.
    :param part: an item of an error's ``loc``.
    """
    if isinstance(value, Mapping):
        return value.get(part)
    if isinstance(part, int) and isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return value[part] if -len(value) <= part < len(value) else None
    if isinstance(part, str):
        return getattr(value, part, None)
    return None


@dataclass(frozen=True)
class NarrowerThanColumns:
    """Stored rows whose values the response schema refuses though their columns allow them: the schema's fault.

    A field stricter than its column (``Field(le=3)`` for an ``Integer``, ``str`` for a nullable column) refuses
    values the database rightly holds: the view's response type is wrong, not the data, and a developer must see
    it as a :class:`~erlen_api.ResponseValidationError`.

    :param places: each refused field, as ``Thing.size (key 4)``.
    """

    places: tuple[str, ...]

    @property
    def explanation(self) -> str:
        """What is wrong and what to do, for the error's message."""
        return (
            f"Its fields refuse values their columns allow: {', '.join(self.places)}. The response type is narrower "
            "than the columns: let those fields take every value the columns store (Optional for a nullable "
            "column, no stricter limits), or constrain the columns."
        )


def stored_value_error(
    value: t.Any, error: ValidationError, resource: str | None = None
) -> StoredValueError | NarrowerThanColumns | None:
    """Whose fault ``error`` is: the stored data's, the response schema's, or the view's.

    Each error's location is followed through ``value``: the last stored instance met on the way is the row, and
    the rest of the location its field. An error outside any stored row (a value the view made, an instance
    it created and did not save) is the view's fault: ``None`` then, and the caller raises what it raised before.
    An error of a field whose column allows the value (its type, length, range and nullability, as
    :mod:`erlen_api.model_schemas` reads them) is the schema's: :class:`NarrowerThanColumns`. Only when every
    refused value breaks its own column's declaration (a title longer than its ``String(80)`` written by plain
    SQL, text in an integer column of SQLite) is it the data's: :class:`StoredValueError`.

    :param value: what was validated: a row, a list of rows, a dict holding them...
    :param error: pydantic's error validating it.
    :param resource: the resource's name, when the rows are a resource's.
    """
    found: dict[int, tuple[t.Any, dict[str, str]]] = {}
    narrower: dict[str, None] = {}
    judge = _ColumnJudge()
    for detail in error.errors(include_url=False, include_input=False):
        current = value
        row: t.Any = None
        field: str | None = None
        for part in detail["loc"]:
            if _is_stored(current):
                row, field = current, str(part)
            current = _step(current, part)
        if _is_stored(current):
            row, field = current, None  # the row itself is refused (by a model validator)
        if row is None:
            return None
        if field is None or not judge.breaks_its_column(row, field):
            narrower[f"{type(row).__name__}.{field or '(row)'} (key {_identity(row)})"] = None
            continue
        # The field of the row: what follows in the location (a union's member, a nested key) stays in the log.
        _, fields = found.setdefault(id(row), (row, {}))
        fields.setdefault(field, detail["type"])
    if narrower:
        return NarrowerThanColumns(tuple(narrower))
    faults = [
        RowFault(type(row), _identity(row), tuple(fields), tuple(fields.values())) for row, fields in found.values()
    ]
    return StoredValueError(faults, resource) if faults else None


class _ColumnJudge:
    """Tells whether stored values break their columns' declarations; each column's validator made once."""

    def __init__(self) -> None:
        self._adapters: dict[tuple[int, str | None], TypeAdapter[t.Any] | type | None] = {}

    def breaks_its_column(self, row: t.Any, field: str) -> bool:
        """Whether the value of ``row``'s attribute ``field`` is one its column's own declaration refuses.

        A field that is no plain column (a property, a relationship, a column expression) holds what code made:
        never the data's fault. Without erlen-db, which reads a column's limits, every refused column value is
        taken as the data's, as a resource's schemas (made from the columns) would have it.

        :param row: a stored mapped instance.
        :param field: the attribute the response schema read.
        """
        import sqlalchemy as sa

        attribute = sa.inspect(type(row)).column_attrs.get(field)
        if attribute is None or len(attribute.columns) != 1 or not isinstance(attribute.columns[0], sa.Column):
            return False
        column = attribute.columns[0]
        value = getattr(row, field, None)
        if value is None:
            return not column.nullable
        dialect = _dialect_of(row)
        key = (id(column), dialect)
        if key not in self._adapters:
            self._adapters[key] = _column_validator(column, dialect)
        adapter = self._adapters[key]
        if adapter is None:
            return True
        if isinstance(adapter, type):
            # A type of the app's own, which pydantic cannot check: what the column's type gives is an instance.
            return not isinstance(value, adapter)
        try:
            adapter.validate_python(value)
        except ValidationError:
            return True
        return False


def _column_validator(column: t.Any, dialect: str | None) -> TypeAdapter[t.Any] | type | None:
    """What tells whether a value is one ``column`` may hold: a validator of its declaration; its Python class
    when pydantic has no schema for that (a ``TypeDecorator`` answering a class of the app's own); ``None``
    without erlen-db, which reads the limits.

    :param column: a mapped column.
    :param dialect: the database's dialect, or ``None``.
    """
    from .model_schemas import column_value_type

    try:
        annotation = column_value_type(column, dialect)
    except ImportError:  # erlen-db is not installed
        return None
    try:
        return TypeAdapter(annotation)
    except PydanticSchemaGenerationError:
        # Raised here, it would replace the response's own error with one about pydantic's schemas.
        return annotation if isinstance(annotation, type) else TypeAdapter(t.Any)


def _dialect_of(row: t.Any) -> str | None:
    """The dialect of the database ``row`` was read from: its session's, or erlen-db's database's once the view
    closed the session; ``None`` when neither is known (a column's integers are then the widest any stores).

    :param row: a stored mapped instance.
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import object_session

    session = object_session(row)
    try:
        if session is not None:
            return session.get_bind(mapper=sa.inspect(type(row))).dialect.name
        from erlen_db import database_of

        return database_of(current_app).engine.dialect.name
    except (ImportError, erlen.PluginNotEnabledError, sa.exc.UnboundExecutionError):
        return None


def answer_stored_value_error(exc: StoredValueError) -> Response:
    """The 500 problem of rows the response schema refuses; logged once, at ERROR, for an operator.

    :param exc: the error.
    """
    from .state import state_of

    model = exc.faults[0].model
    resource = exc.resource or state_of().resource_names.get(model) or model.__name__
    rows = "; ".join(
        f"{fault.model.__name__} key {fault.identity}: "
        + ", ".join(f"{name} ({kind})" for name, kind in zip(fault.fields, fault.errors, strict=True))
        for fault in exc.faults
    )
    # One record for the request, with every row: the values themselves stay out of the log too.
    current_app.logger.error(
        "Stored rows of %s hold values their response schema refuses, %s; correct them: %s %s answers 500 until then.",
        resource,
        rows,
        request.method,
        request.path,
    )
    fields = exc.fields
    return problem_response(
        500,
        f"A stored item of {resource} holds a value its schema refuses, in {', '.join(fields)}. The error is "
        "logged for the operators to correct the data.",
        type=PROBLEM_TYPES["stored-value-invalid"],
        title="Stored value invalid",
        instance=request.path,
        resource=resource,
        fields=fields,
    )
