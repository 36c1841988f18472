"""Where a view's parameter comes from: the markers :class:`Query` and :class:`Body`, and the default rules.

A view declares its inputs with type hints. Without a marker:

* a parameter named in the URL rule (``<int:id>``) is a path parameter;
* a parameter of a scalar type (``str``, ``int``, ``float``, ``bool``,
  ``Decimal``, ``UUID``, dates and times, enums, ``Literal``, or a list of
  these, optionally ``| None``) is a query parameter;
* any other (a pydantic model, a dataclass, a ``TypedDict``, ``dict``, a list
  of models) is the JSON body. A view has at most one body.

A marker in :data:`typing.Annotated` says otherwise: ``Annotated[NoteFilter,
Query()]`` reads the fields of the model ``NoteFilter`` from the query string.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import types
import typing as t
import uuid
from dataclasses import dataclass

#: The types read from a single query-string or path value.
SCALAR_TYPES: tuple[type, ...] = (
    str,
    int,
    float,
    bool,
    decimal.Decimal,
    uuid.UUID,
    datetime.date,
    datetime.datetime,
    datetime.time,
    datetime.timedelta,
    enum.Enum,
)


@dataclass(frozen=True)
class Query:
    """Read the parameter from the query string: ``Annotated[NoteFilter, Query()]``.

    On a model, dataclass or ``TypedDict``, each of its fields is a query
    parameter of its own.

    :param name: the name in the query string, when it differs from the parameter's (``sort-by``).
    :param description: the parameter's description in the OpenAPI document.
    """

    name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Body:
    """Read the parameter from the JSON body: ``Annotated[list[int], Body()]``.

    :param description: the request body's description in the OpenAPI document.
    """

    description: str | None = None


@dataclass(frozen=True)
class Path:
    """Describe a path parameter: ``Annotated[int, Path(description="The note's id.")]``.

    :param description: the parameter's description in the OpenAPI document.
    """

    description: str | None = None


Marker = Query | Body | Path


def split_annotation(annotation: t.Any) -> tuple[t.Any, Marker | None]:
    """The type of an annotation without its :class:`Query`/:class:`Body`/:class:`Path` marker, and the marker.

    Other ``Annotated`` metadata (pydantic's ``Field``, constraints) stays on the type.

    :param annotation: a resolved type hint, possibly ``Annotated``.
    """
    if t.get_origin(annotation) is not t.Annotated:
        return annotation, None
    base, *metadata = t.get_args(annotation)
    markers = [item for item in metadata if isinstance(item, Query | Body | Path)]
    if len(markers) > 1:
        raise TypeError(f"{annotation!r} has more than one of the markers Query, Body and Path.")
    rest = [item for item in metadata if not isinstance(item, Query | Body | Path)]
    kept = t.Annotated[(base, *rest)] if rest else base
    return kept, markers[0] if markers else None


def _without_none(annotation: t.Any) -> list[t.Any]:
    """The members of a union other than ``None`` (the type itself when it is no union).

    :param annotation: a type hint, possibly ``Annotated``.
    """
    if t.get_origin(annotation) is t.Annotated:
        annotation = t.get_args(annotation)[0]
    origin = t.get_origin(annotation)
    if origin is t.Union or origin is types.UnionType:
        return [arg for arg in t.get_args(annotation) if arg is not type(None)]
    return [annotation]


def is_scalar(annotation: t.Any) -> bool:
    """Whether values of ``annotation`` are read from one string (a query or path value).

    :param annotation: a type hint.
    """
    for member in _without_none(annotation):
        if t.get_origin(member) is t.Literal:
            continue
        if isinstance(member, type) and issubclass(member, SCALAR_TYPES):
            continue
        return False
    return True


def is_sequence(annotation: t.Any) -> bool:
    """Whether ``annotation`` is a list, tuple, set or frozenset (of scalars), read from a repeated query parameter.

    :param annotation: a type hint.
    """
    for member in _without_none(annotation):
        if t.get_origin(member) in (list, tuple, set, frozenset) and all(
            arg is Ellipsis or is_scalar(arg) for arg in t.get_args(member)
        ):
            return True
    return False


def is_structured(annotation: t.Any) -> bool:
    """Whether ``annotation`` is a pydantic model, a dataclass or a ``TypedDict``: a type with named fields.

    :param annotation: a type hint.
    """
    from pydantic import BaseModel

    members = _without_none(annotation)
    if len(members) != 1 or not isinstance(members[0], type):
        return False
    kind = members[0]
    return issubclass(kind, BaseModel) or dataclasses.is_dataclass(kind) or t.is_typeddict(kind)
