"""Unique and foreign-key violations answered as 409 problems naming the fields, instead of 500s.

PostgreSQL names the violated constraint (``diag.constraint_name``), whose
columns the table's metadata lists. SQLite names the columns of a unique
constraint in its message, but not those of a foreign key: after the
rollback, each reference of the row is looked up to find the one that
points to no row.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .problems import PROBLEM_TYPES, Problem

if t.TYPE_CHECKING:
    from .resource_api import BuiltResource


def _columns_of_constraint(table: sa.Table, name: str) -> list[str] | None:
    """The names of the columns of the constraint or unique index ``name`` of ``table``.

    :param table: the table.
    :param name: the constraint's name, as the database reports it.
    """
    for constraint in table.constraints:
        if constraint.name == name:
            return [column.name for column in getattr(constraint, "columns", ())]
    for index in table.indexes:
        if index.name == name:
            return [column.name for column in index.columns if isinstance(column, sa.Column)]
    return None


def _missing_reference(session: Session, table: sa.Table, values: Mapping[str, t.Any]) -> list[str]:
    """The columns of ``table`` whose value in ``values`` no row of the referenced table has.

    :param session: the session, rolled back.
    :param table: the table of the row.
    :param values: the row's values, by column name.
    """
    missing = []
    for foreign_key in table.foreign_keys:
        column = foreign_key.parent
        value = values.get(column.name)
        if value is None:
            continue
        target = foreign_key.column
        found = session.execute(sa.select(sa.literal(1)).select_from(target.table).where(target == value)).first()
        if found is None:
            missing.append(column.name)
    return missing


def _violation(exc: IntegrityError) -> tuple[str | None, list[str] | None, str | None]:
    """The kind of an integrity error (``unique``, ``foreign_key`` or ``None``), its columns, and its constraint.

    :param exc: the error.
    :returns: the kind, the column names when the database says them, the constraint's name when it says it.
    """
    original = exc.orig
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate is not None:  # PostgreSQL
        diag = getattr(original, "diag", None)
        constraint = getattr(diag, "constraint_name", None)
        kind = {"23505": "unique", "23503": "foreign_key"}.get(str(sqlstate))
        return kind, None, constraint
    name = str(getattr(original, "sqlite_errorname", ""))
    message = str(original)
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY") or "UNIQUE constraint failed" in message:
        listed = message.partition("failed:")[2]
        return "unique", [part.strip().rpartition(".")[2] for part in listed.split(",") if part.strip()], None
    if name == "SQLITE_CONSTRAINT_FOREIGNKEY" or "FOREIGN KEY constraint failed" in message:
        return "foreign_key", None, None
    return None, None, None


def conflict(
    built: BuiltResource, session: Session, exc: IntegrityError, values: Mapping[str, t.Any] | None
) -> Problem:
    """The 409 problem of a unique or foreign-key violation, naming the fields; ``exc`` itself for others.

    :param built: the resource.
    :param session: the session, already rolled back.
    :param exc: the error.
    :param values: the row's values by column name, for a create or change; ``None`` for a deletion.
    :raises IntegrityError: ``exc``, when it is another kind of violation.
    """
    table = t.cast(sa.Table, sa.inspect(built.resource.model).local_table)
    kind, columns, constraint = _violation(exc)
    name = built.resource.resource_name
    if kind is None:
        raise exc
    keys_by_column = {item.column.name: key for key, item in built.fields.items()}
    if kind == "foreign_key" and values is None:
        return Problem(
            409,
            f"Other rows refer to this item of {name}; delete or change them first.",
            type=PROBLEM_TYPES["conflict"],
            title="Conflict",
        )
    if columns is None and constraint is not None:
        columns = _columns_of_constraint(table, constraint)
    if kind == "foreign_key" and not columns:
        columns = _missing_reference(session, table, values or {})
    fields = [keys_by_column.get(column, column) for column in columns or []]
    if kind == "unique":
        detail = f"Another item of {name} has the same {', '.join(fields) or 'unique values'}."
        each = "This value is taken by another item."
    else:
        detail = f"No row exists that {', '.join(fields) or 'a reference'} refers to."
        each = "No row has this key."
    return Problem(
        409,
        detail,
        type=PROBLEM_TYPES["conflict"],
        title="Conflict",
        errors=[{"detail": each, "location": "body", "pointer": f"#/{key}", "type": kind} for key in fields],
    )


def save(
    built: BuiltResource,
    session: Session,
    row: t.Any | None = None,
    after_flush: Callable[[t.Any], None] | None = None,
) -> bytes | None:
    """Write ``session``'s changes, make the answer, then commit; a unique or foreign-key violation is a 409.

    The answer is made from the flushed row before the commit: should making it fail (a stored value the read
    schema refuses, the database gone while reading back a server-made value), the write is rolled back with
    the request and its error answer is true; made after the commit, it would tell the client that a saved
    write failed, and a retry would write it again. The row is read back first: the answer and its ``ETag``
    are of the values as stored, as a later read answers them (``1.5`` in a ``Numeric(6, 2)`` is ``1.50``).

    :param built: the resource.
    :param session: the session.
    :param row: the row created or changed; ``None`` for a deletion.
    :param after_flush: called with ``row`` once it is flushed (a resource's ``after_create``); what it writes is
        flushed and committed with the row, its violations answered as the row's are.
    :returns: the JSON of ``row`` as a read answers it (what its ``ETag`` is computed over); ``None`` for a
        deletion.
    :raises Problem: 409.
    """
    values = None
    if row is not None:
        mapper = sa.inspect(built.resource.model)
        values = {prop.columns[0].name: getattr(row, prop.key) for prop in mapper.column_attrs}
    try:
        session.flush()
        if after_flush is not None:
            after_flush(row)
            session.flush()
        body = None
        if row is not None:
            session.refresh(row)  # the values the request set, as the database stores them
            body = built.representation(row)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise conflict(built, session, exc, values) from None
    return body
