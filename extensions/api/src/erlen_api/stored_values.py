"""Rows as stored that their response schema refuses: a 500 problem naming the fields, and an error in the log.

A row written by plain SQL, by another program or by an older version of the
app can hold what the schema of its answers refuses: a title longer than its
``maxLength``, text in an integer column of SQLite. The client can do nothing
about it, so it is a 500, but not an unexpected one: the answer is a problem
document of type ``urn:erlen:problem:stored-value-invalid`` naming the
resource and the fields (never the values, which may be anyone's data), and
the log holds one error naming the resource, the row's primary key and the
fields, for an operator to correct the row.

A write whose answer fails so is not committed (see
:func:`erlen_api.conflicts.save`): the error answer is true.
"""

from __future__ import annotations

import sys
import typing as t
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask import current_app, request
from pydantic import ValidationError

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


def stored_value_error(value: t.Any, error: ValidationError, resource: str | None = None) -> StoredValueError | None:
    """The :class:`StoredValueError` of ``error``, when each of its errors is of a field of a stored row.

    Each error's location is followed through ``value``: the last stored instance met on the way is the row, and
    the rest of the location its field. An error outside any stored row (a value the view made, an instance
    it created and did not save) is the view's fault:
    ``None`` then, and the caller raises what it raised before.

    :param value: what was validated: a row, a list of rows, a dict holding them...
    :param error: pydantic's error validating it.
    :param resource: the resource's name, when the rows are a resource's.
    """
    found: dict[int, tuple[t.Any, dict[str, str]]] = {}
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
        # The field of the row: what follows in the location (a union's member, a nested key) stays in the log.
        _, fields = found.setdefault(id(row), (row, {}))
        fields.setdefault(field or "(row)", detail["type"])
    faults = [
        RowFault(type(row), _identity(row), tuple(fields), tuple(fields.values())) for row, fields in found.values()
    ]
    return StoredValueError(faults, resource) if faults else None


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
