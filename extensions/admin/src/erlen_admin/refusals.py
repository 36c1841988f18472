"""What to tell someone whose create or edit the database refused, and on which field.

A form's validators run before the save, so a constraint can still refuse it:
another session inserted the same unique value or deleted the referenced row
in between, or the database holds a rule (a CHECK, a multi-column UNIQUE) that
no validator knows. :func:`explain` turns the driver's error into a message,
naming the field when the constraint names one column the form has. It runs
only after a refused save, so the cost of the queries it may make is paid then.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

import erlen_db

from .views.model_view import ModelView

# SQLite's messages: "UNIQUE constraint failed: book.a, book.b", "CHECK constraint failed: <name or expression>".
_SQLITE = re.compile(r"^(UNIQUE|NOT NULL|CHECK|FOREIGN KEY) constraint failed(?:: (.*))?$", re.DOTALL)
# PostgreSQL's detail of unique and foreign-key violations: 'Key (author_id)=(7) is not present in table "author".'
_PG_KEY = re.compile(r"^Key \((.+?)\)=")
_PG_KINDS = {"23505": "UNIQUE", "23503": "FOREIGN KEY", "23514": "CHECK", "23502": "NOT NULL"}


@dataclass(frozen=True)
class Refusal:
    """Why the database refused a save.

    :param message: what to tell the person, and what to do.
    :param field: the form field the message belongs to; ``None`` for the top of the form.
    """

    message: str
    field: str | None = None


#: The message of a save that met another connection's write on SQLite (the file is locked, or this
#: request's snapshot is older than a commit made since): nothing was saved, and the same save can succeed now.
BUSY = Refusal(
    "Someone else changed the database while this was being saved, so nothing was saved. "
    "Check the values and save again."
)


def explain(error: sa.exc.DBAPIError, view: ModelView, session: Session, values: t.Mapping[str, t.Any]) -> Refusal:
    """The message for ``error``, which refused saving an object of ``view`` (the session is rolled back).

    :param error: the IntegrityError the flush or commit raised.
    :param view: the model view whose form was saved.
    :param session: the rolled-back session, for looking up foreign keys SQLite does not name.
    :param values: the form's values, by column attribute.
    """
    kind, columns, constraint = _parse(error.orig)
    by_name = {column.name: key for key, column in view.columns.items()}
    keys = [by_name[name] for name in columns if name in by_name]
    if kind == "CHECK" and not keys and constraint:
        keys = _check_columns(view, constraint)
    if kind == "FOREIGN KEY" and not keys:
        keys = _missing_references(view, session, values)
    noun = view.name.lower()
    key = keys[0] if len(keys) == 1 else None
    field = key if key is not None and key in values else None
    labels = ", ".join(view.label(key).lower() for key in keys)
    if kind == "UNIQUE":
        if field is not None:
            return Refusal(f"Another {noun} already has this value (it was saved meanwhile); choose another.", field)
        return Refusal(f"Another {noun} already has the same {labels or 'values'}; change them and save again.")
    if kind == "FOREIGN KEY":
        if field is not None:
            return Refusal("The chosen row no longer exists (it was deleted meanwhile); choose another.", field)
        return Refusal(f"A row this {noun} refers to no longer exists (it was deleted meanwhile); choose another.")
    if kind == "CHECK":
        rule = f" ({constraint})" if constraint else ""
        if field is not None:
            return Refusal(f"The database does not allow this value{rule}.", field)
        return Refusal(f"The database does not allow these values{rule}; change them and save again.")
    if kind == "NOT NULL":
        if field is not None:
            return Refusal("This field is required.", field)
        return Refusal(f"The database needs a value for {labels or 'a column'}, which this form does not set.")
    return Refusal(f"The database refused this {noun}: {erlen_db.describe_error(error, erlen_db.database_of())}")


def _parse(orig: BaseException | None) -> tuple[str | None, list[str], str | None]:
    """The kind of constraint, the column names it names and its name, from the driver's error."""
    diag = getattr(orig, "diag", None)  # psycopg and psycopg2
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if diag is not None and sqlstate:
        columns: list[str] = [diag.column_name] if getattr(diag, "column_name", None) else []
        match = _PG_KEY.match(getattr(diag, "message_detail", None) or "")
        if match and not columns:
            columns = [part.strip().strip('"') for part in match.group(1).split(",")]
        return _PG_KINDS.get(sqlstate), columns, getattr(diag, "constraint_name", None)
    match = _SQLITE.match(str(orig).strip())
    if match is None:
        return None, [], None
    kind, rest = match.group(1), (match.group(2) or "").strip()
    if kind in ("UNIQUE", "NOT NULL"):
        return kind, [part.strip().rsplit(".", 1)[-1] for part in rest.split(",") if part.strip()], None
    return kind, [], rest or None


def _check_columns(view: ModelView, constraint: str) -> list[str]:
    """The column attributes a CHECK constraint (by name, or SQLite's expression) mentions."""
    text = constraint
    for candidate in view.table.constraints:
        if isinstance(candidate, sa.CheckConstraint) and str(candidate.name) == constraint:
            text = str(candidate.sqltext)
            break
    return [key for key, column in view.columns.items() if re.search(rf"\b{re.escape(column.name)}\b", text)]


def _missing_references(view: ModelView, session: Session, values: t.Mapping[str, t.Any]) -> list[str]:
    """The form's foreign-key fields whose chosen row does not exist (SQLite does not say which failed)."""
    missing = []
    for key, value in values.items():
        remote = view.foreign_key(key) if key in view.columns else None
        if remote is None or value is None:
            continue
        if not session.scalar(sa.select(sa.exists().where(remote == value))):
            missing.append(key)
    return missing
