"""The audit log: every create, edit, delete and bulk action made through the admin.

Entries are added to the same session as the change, so they are committed
with it, or not at all.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import re
import typing as t
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from markupsafe import Markup
from sqlalchemy.orm import Session, aliased

from .timestamps import time_tag
from .views.model_view import ModelView, display_value


def visible_entries(statement: sa.Select[t.Any], user: t.Any) -> sa.Select[t.Any]:
    """``statement``, reading audit entries, narrowed to those ``user`` may see: the audit view's ``scope``.

    An entry holds the changed values of its model's row, so seeing it is seeing the row: a superuser sees every
    entry; anyone else only the entries of models whose admin view they may ``view`` (not those of models without
    an admin view any more, which nobody but a superuser may view), and of a scoped view (``ModelView(scope=...)``)
    only those of the rows in its scope now (a deleted row's entries are then the superusers'), and of a key given
    to a new row since its row was deleted (SQLite reuses the highest) only those since the deletion or creation
    the log recorded: entries of deletions, and those before a later deletion or creation of the key, are the
    superusers'. The "Recent changes" widget and the activity chart read through it too.

    :param statement: a ``SELECT`` of :class:`~erlen_admin.models.AuditEntry` rows (or of their columns).
    :param user: the user they are for (the current user).
    """
    from .models import AuditEntry
    from .views.registry import registry_of

    if bool(getattr(user, "is_superuser", False)) and bool(getattr(user, "is_active", True)):
        return statement
    whole: list[str] = []
    scoped: list[sa.ColumnElement[bool]] = []
    for slug, view in registry_of().models.items():
        if not view.allows(user, "view"):
            continue
        if view.scope is None or view.model is AuditEntry:
            whole.append(slug)
            continue
        # The keys of the rows in the view's scope, as the entries store them (text).
        keys = view.scoped(sa.select(view.model), user).with_only_columns(
            sa.cast(view.pk_column, AuditEntry.object_id.type)
        )
        scoped.append(
            sa.and_(
                AuditEntry.model == slug,
                AuditEntry.object_id.in_(keys),
                ~records_deletion(AuditEntry.action),
                ~_superseded(AuditEntry, slug),
            )
        )
    # An empty IN is false on every database (SQLAlchemy renders it so): no entries.
    return statement.where(sa.or_(AuditEntry.model.in_(whole), *scoped))


#: How an entry's heading names its action; another action is named as stored (``bulk:publish``: ``Bulk publish``).
_PAST_TENSES = {"create": "Created", "edit": "Edited", "delete": "Deleted"}


def heading_of(entry: t.Any, view: ModelView | None) -> str:
    """What an audit entry records, in words: ``Edited book “Renamed”``, for its page's heading and the "Recent
    changes" widget.

    :param entry: an :class:`~erlen_admin.models.AuditEntry`.
    :param view: the model view of the entry's model (``registry_of().models.get(entry.model)``), or ``None`` for a
        model no longer registered, which is then named by its slug.
    """
    action, deleted = _action_in_words(entry.action)
    model = entry.model if view is None else _within_a_sentence(view.name)
    # An object without a text of its own is described by its model's name and key (ModelView.describe): the
    # name is said once, "Edited note 26", as ModelView.title says it.
    said_by_its_key = (
        view is not None
        and entry.object_repr == f"{view.name} {entry.object_id}"
        # No text of its own: a __str__ may say "Book 1" too.
        and view.model.__str__ is object.__str__  # type: ignore[comparison-overlap]
    )
    if entry.object_repr and not said_by_its_key:
        return f"{action} {model} “{entry.object_repr}”{deleted}"
    return f"{action} {model} {entry.object_id or ''}".rstrip() + deleted


def _action_in_words(action: str) -> tuple[str, str]:
    """An entry's action for its heading (``Edited``, ``Bulk publish``, ``Mark lost``), and what follows the object:
    :data:`DELETED_MARK` for a row the action deleted, else nothing.

    A bulk or object action (``bulk:<name>``, ``action:<name>``) is said by its name with spaces (``mark_lost``:
    ``Mark lost``), never as stored (``Action:mark_lost``). Not by its label: that is a button's text ("Delete
    selected", "Save roles"), and the entry outlives the action.

    :param action: the entry's action.
    """
    if action in _PAST_TENSES:
        return _PAST_TENSES[action], ""
    deleted = DELETED_MARK if action.endswith(DELETED_MARK) else ""
    kind, _, name = action.removesuffix(DELETED_MARK).partition(":")
    if kind in ("bulk", "action") and name:
        said = name.replace("_", " ")
        if kind == "bulk":
            said = f"bulk {said}"
    else:
        said = action.removesuffix(DELETED_MARK)  # not one of the admin's: as stored
    return said[:1].upper() + said[1:], deleted


def _within_a_sentence(name: str) -> str:
    """A model's name inside a sentence: ``Book`` becomes ``book``, ``OIDC identity`` stays as it is."""
    if name[1:2].isupper():
        return name
    return name[:1].lower() + name[1:]


class AuditLogView(ModelView):
    """The audit log's view: an entry is named by what it records (:func:`heading_of`), not by its key."""

    def describe(self, obj: t.Any) -> str:
        """The entry in words, its model named as its view names it."""
        from .views.registry import registry_of

        return heading_of(obj, registry_of().models.get(obj.model))

    def title(self, obj: t.Any) -> str:
        """The entry in words: its heading already says what it is."""
        return self.describe(obj)


#: The actions of the entries that record a row's deletion (the delete page, "Delete selected").
DELETIONS = ("delete", "bulk:delete")

#: Ends the action of an entry recording a row that another bulk or object action deleted (``bulk:purge (deleted)``).
DELETED_MARK = " (deleted)"


def deletion_action(action: str) -> str:
    """The entry action recording that ``action`` (``bulk:<name>``, ``action:<name>``) deleted its row.

    :param action: the action's own entry action.
    """
    return action[: 64 - len(DELETED_MARK)] + DELETED_MARK


def records_deletion(action: t.Any) -> sa.ColumnElement[bool]:
    """Whether the entry action ``action`` (a column) records a row's deletion: by the delete page, "Delete
    selected", or another action whose callback deleted the row (:func:`deletion_action`).

    :param action: :attr:`AuditEntry.action <erlen_admin.models.AuditEntry.action>`, or an alias's.
    """
    return sa.or_(action.in_(DELETIONS), action.endswith(DELETED_MARK, autoescape=True))


def _superseded(entry: t.Any, slug: str) -> sa.Exists:
    """Whether a later entry of the same key says that a row was deleted or made there since ``entry``.

    A key may be given to a new row once its row is deleted (SQLite gives the highest again, a sequence may be set
    back, a natural key is reused): the entries before such a deletion or creation are those of another row,
    which the new row's scope says nothing about.

    :param entry: the audit entry class, as the outer query reads it.
    :param slug: the model's slug.
    """
    later = aliased(entry)
    return (
        sa.exists()
        .where(later.model == slug, later.object_id == entry.object_id, later.id > entry.id)
        .where(sa.or_(later.action == "create", records_deletion(later.action)))
    )


def jsonable(value: t.Any) -> t.Any:
    """``value`` as something JSON stores."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def snapshot(view: ModelView, obj: t.Any, keys: t.Iterable[str] | None = None) -> dict[str, t.Any]:
    """The column values of ``obj``, JSON-ready; secret-looking columns are masked."""
    from erlen_forms import is_sensitive

    keys = list(keys) if keys is not None else list(view.columns)
    return {key: "***" if is_sensitive(key) else jsonable(getattr(obj, key, None)) for key in keys}


def diff(before: Mapping[str, t.Any], after: Mapping[str, t.Any]) -> dict[str, list[t.Any]]:
    """``{column: [old, new]}`` for every column whose value changed."""
    return {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}


def record(
    session: Session,
    view: ModelView,
    action: str,
    obj: t.Any,
    changes: Mapping[str, t.Any] | None,
    *,
    user: t.Any = None,
) -> t.Any:
    """Add an audit entry for ``action`` on ``obj`` to ``session`` (committed with the change).

    :param session: the session holding the change.
    :param view: the model view the change was made through.
    :param action: ``create``, ``edit``, ``delete``, ``bulk:<name>`` or ``action:<name>``; for a row that a
        bulk or object action deleted, :func:`deletion_action` of it.
    :param obj: the object (flushed, so it has its key).
    :param changes: what changed: ``{column: [old, new]}``, or a snapshot of a deleted row.
    :param user: who; the current user by default.
    """
    from .models import AuditEntry

    if user is None:
        from flask_login import current_user

        user = current_user
    authenticated = bool(getattr(user, "is_authenticated", False))
    pk = view.pk_of(obj)
    entry = AuditEntry(
        user_id=getattr(user, "id", None) if authenticated else None,
        user_email=getattr(user, "email", None) if authenticated else None,
        action=action[:64],
        model=view.slug,
        object_id=None if pk is None else str(pk)[:200],
        object_repr=view.describe(obj)[:200],
        changes=dict(changes) if changes is not None else None,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class Change:
    """One column of an audit entry's changes, as the audit entry's page shows it.

    :param key: the column attribute.
    :param label: its heading (from the model view, when the model is still registered).
    :param before: the value before the change, as the page shows it (``—`` for none: a created row); a time as
        the admin writes every time (a ``<time>`` element, :func:`~erlen_admin.time_tag`).
    :param after: the value after it (``—`` for a deleted row).
    """

    key: str
    label: str
    before: str | Markup
    after: str | Markup


#: A time as :func:`jsonable` stores it (``datetime.isoformat()``): a date, a "T", the time to the second at least,
#: and maybe an offset. Only this exact form is read as a time where no column type says so: a bare date, a space
#: instead of the "T" or a time without seconds is more likely text someone typed.
STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)?")


def _is_deletion(action: str, changes: Mapping[str, t.Any]) -> bool:
    """Whether ``changes`` is a deleted row's snapshot rather than ``{column: [old, new]}``."""
    if action in DELETIONS or action.endswith(DELETED_MARK):
        return True
    return not all(isinstance(value, list) and len(value) == 2 for value in changes.values())


def _pairs(action: str, changes: Mapping[str, t.Any]) -> list[tuple[str, t.Any, t.Any]]:
    """``(column, old, new)`` for each column of an entry's changes, as stored (a deleted row's values are old).

    :param action: the entry's action.
    :param changes: the entry's ``changes``.
    """
    if _is_deletion(action, changes):
        return [(key, value, None) for key, value in changes.items()]
    return [(key, value[0], value[1]) for key, value in changes.items()]


def _is_time_column(view: ModelView | None, key: str) -> bool | None:
    """Whether ``key`` is a column of times (``DateTime``, or a type decorating it) in ``view``; ``None`` when that
    is not known: no view (its model is no longer registered), or a key that is not one of its columns (an
    action's, such as ``roles``).

    :param view: the model view of the entry's model, if any.
    :param key: the changed column's attribute.
    """
    if view is None or key not in view.columns:
        return None
    try:
        return view.columns[key].type.python_type is dt.datetime
    except NotImplementedError:  # a type that does not say which Python values it holds
        return False


def _stored_time(value: t.Any, time_column: bool | None) -> dt.datetime | None:
    """``value`` as a time, when it is one: a ``datetime``, or its ISO text in a column of times (or, where the
    column's type is not known, in the exact form :func:`jsonable` writes); ``None`` for anything else.

    :param value: the stored before or after value.
    :param time_column: :func:`_is_time_column` of its column.
    """
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or time_column is False:
        return None
    if time_column is None and not STORED_TIME.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:  # text in a column of times that is not a time after all: shown as it is
        return None


def stored_time(view: ModelView | None, key: str, value: t.Any) -> dt.datetime | None:
    """The time an audit entry's value ``value`` of column ``key`` is, or ``None`` when it is not one: for pages
    that show an entry's changes their own way (erlen-auth's history of a user), by the rule of its own page.

    :param view: the model view of the entry's model (``registry_of().models.get(entry.model)``), or ``None``.
    :param key: the changed column's attribute.
    :param value: the stored before or after value.
    """
    return _stored_time(value, _is_time_column(view, key))


def _shown(value: t.Any, time_column: bool | None) -> str | Markup:
    """A before or after value on the audit entry's page: a time as every admin page writes it, else its text.

    :param value: the stored value.
    :param time_column: :func:`_is_time_column` of its column.
    """
    moment = _stored_time(value, time_column)
    return time_tag(moment) if moment is not None else display_value(value)


def changes_of(action: str, changes: Mapping[str, t.Any] | None, view: ModelView | None = None) -> list[Change]:
    """An audit entry's changes as rows of a before/after table, for its page.

    A time (a ``datetime`` column's value, which the entry stores as ISO text) is shown as the admin shows every
    time: ``2026-12-07 06:38 UTC`` in a ``<time>`` element with the exact value. The column's type says which
    values are times; for a column the view does not have (or without a view) only the ISO form :func:`jsonable`
    writes is.

    :param action: the entry's action (``delete`` entries hold the deleted row's values).
    :param changes: the entry's ``changes``.
    :param view: the model view of the entry's model, for the columns' headings and types.
    """
    if not changes:
        return []
    rows = []
    for key, old, new in _pairs(action, changes):
        label = view.label(key) if view is not None and key in view.columns else key
        time_column = _is_time_column(view, key)
        rows.append(Change(key, label, _shown(old, time_column), _shown(new, time_column)))
    return rows


def changes_text(changes: Mapping[str, t.Any] | None, action: str = "edit") -> str:
    """An audit entry's changes on one line, for the CSV export: ``title: Old → New; pages: 1 → 2``; times stay
    the ISO text the entry stores.

    :param changes: the entry's ``changes``.
    :param action: the entry's action; a deletion lists the deleted row's values.
    """
    if not changes:
        return ""
    return "; ".join(f"{key}: {display_value(old)} → {display_value(new)}" for key, old, new in _pairs(action, changes))
