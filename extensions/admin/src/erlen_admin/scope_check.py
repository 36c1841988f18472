"""Writes that leave the scope: the one check of creates, edits, bulk actions and object actions.

Like PostgreSQL's row-level security ``WITH CHECK``: a change made through the admin may not move a row, or make
one, where its author could no longer see it. Every row of a scoped model that the change adds or changes (in
the view's own model or any other: a view's ``create_object`` or ``update_object``, or an action's callback,
may write other rows too) is read again after the change's flush, in its transaction, through the scope that
applies to it:

- a row of the view's own model, through the view's ``scope``;
- a row of another model, through the scopes of that model's views for the user (the rows a foreign key to it
  offers: :func:`erlen_admin.related.rows_filter`); a model without a view, or whose views do not narrow the
  rows for the user, is not checked.

The routes collect what a change writes with :func:`written_rows` (each flush is watched: a callback or a
``create_object`` may flush by itself, and a query autoflushes), then ask :func:`rows_outside`; any row outside
rolls the whole change back (:func:`undo`), and the message names the rows the user could see before the change,
and counts the others without naming them (their titles are not the user's to read).

Statements that write rows without the flush (ORM bulk ``update()``/``delete()``/``insert()``, Core statements, raw
SQL) are watched within :func:`written_rows` too: confined to the scope and their rows checked the same way, or
refused (:mod:`erlen_admin.statement_guard`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import typing as t
from collections.abc import Iterator

import sqlalchemy as sa

import erlen_db

from .related import RowsFilter, rows_filter
from .statement_guard import StatementGuard, keys_in
from .views.model_view import ModelView
from .views.registry import registry_of

#: What a create or edit form says when the saved row itself would fall outside the view's scope for the user.
OUTSIDE_SCOPE = (
    "Nothing was saved: with these values the {name} would be outside the rows you may see and change here. "
    "Change the values that decide it, or ask someone who may see such rows."
)

#: What a create or edit form says when the save would leave other rows outside the user's scopes (``what``:
#: the rows left outside, named, and those the user may not see, counted).
SAVE_REFUSED = (
    "Nothing was saved: the save would have {what}. Change the values that decide it, or ask someone who may "
    "see such rows."
)


#: Why a commit inside :func:`written_rows` is refused.
COMMIT_REFUSED = (
    "erlen-admin commits a create, an edit or an action itself, once it has checked that every row written "
    "stays in the user's scope: a view's create_object or update_object, or an action's callback, must not "
    "commit (session.commit()); a savepoint (session.begin_nested()) may be. Nothing was committed."
)


@dataclasses.dataclass(frozen=True)
class Outside:
    """A row a change would have left outside the user's scope.

    :param obj: the object.
    :param title: the row named for a sentence (:meth:`ModelView.title` of a view of its model).
    :param own: whether it is a row of the acting view's model (checked through that view's scope).
    :param hidden: whether the row was outside the user's scope before the change too (:func:`undo`): a row
        the user may not see, counted in a message but not named.
    """

    obj: t.Any
    title: str
    own: bool
    hidden: bool = False


class Written(list[t.Any]):
    """The objects the flushes of a checked block inserted or changed (a list), and what the statements run
    within it outside the flush changed (:attr:`statements`: :mod:`erlen_admin.statement_guard`).

    :param statements: the guard that watched the block's statements.
    """

    def __init__(self, statements: StatementGuard) -> None:
        super().__init__()
        self.statements = statements

    def gone(self, obj: t.Any) -> bool:
        """Whether ``obj``'s row was deleted in the block: by the session or by a ``DELETE`` statement.

        :param obj: a mapped object.
        """
        return obj in self.statements.session.deleted or sa.inspect(obj).was_deleted or self.statements.gone(obj)


@contextlib.contextmanager
def written_rows(view: ModelView, user: t.Any) -> Iterator[Written]:
    """The objects that the flushes within the block insert or change, collected in the list it gives.

    Each flush is watched (``after_flush``, where the session still lists what the flush wrote): a callback,
    ``create_object`` or ``update_object`` may flush by itself (a query autoflushes), after which its rows are
    no longer among the session's ``new`` or ``dirty``. Watched after the flush rather than before, so that
    rows the flush itself changed are collected too: a row appended to another's one-to-many collection (its
    foreign key is set by the flush; before it, only the parent's collection changed), or one a mapper event
    changed. An object marked dirty whose columns did not change (a value set to itself) is left out.
    Deleted objects are not collected. End the block with a flush, so that nothing written in it is missed.

    A commit within the block is refused (:data:`COMMIT_REFUSED`, raised as a :class:`RuntimeError` from
    ``session.commit()``): it would commit the rows before they are checked, and the check's rollback would
    then undo nothing. A savepoint's release is not a commit and is let through.

    Statements that write rows of a scoped table without the flush (ORM bulk ``update()``/``delete()``, Core
    statements, raw SQL) are confined to the user's scope, noted for :func:`rows_outside`, or refused
    (:mod:`erlen_admin.statement_guard`).

    :param view: the view the change is made through.
    :param user: the acting user.
    """
    session = erlen_db.get_session()
    statements = StatementGuard(view, user, session)
    written = Written(statements)
    seen: set[int] = set()

    def collect(flushed: t.Any, context: t.Any) -> None:
        # The new in the order they were added; the changed (an unordered set) by class and key, so that a
        # message naming them says them in the same order every time.
        changed = sorted(
            (obj for obj in flushed.dirty if flushed.is_modified(obj, include_collections=False)),
            key=lambda obj: (type(obj).__module__, type(obj).__qualname__, sa.inspect(obj).identity),
        )
        for obj in [*flushed.new, *changed]:
            if id(obj) not in seen:
                seen.add(id(obj))
                written.append(obj)

    def refuse_commit(committing: t.Any) -> None:
        if not committing.in_nested_transaction():  # the outermost transaction, not a savepoint
            raise RuntimeError(COMMIT_REFUSED)

    sa.event.listen(session, "after_flush", collect)
    sa.event.listen(session, "before_commit", refuse_commit)
    statements.install()
    try:
        yield written
        statements.settle()
    finally:
        statements.remove()
        sa.event.remove(session, "after_flush", collect)
        sa.event.remove(session, "before_commit", refuse_commit)


def rows_outside(
    view: ModelView, objects: t.Sequence[t.Any], user: t.Any, statements: StatementGuard | None = None
) -> list[Outside]:
    """The rows of ``objects`` (flushed) that a change made through ``view`` left outside ``user``'s scopes.

    Read in the change's transaction, after its flush: the rows of ``view``'s model through ``view``'s scope,
    those of other models through the scopes of their views for ``user`` (see the module). Deleted objects,
    and those of models no scope narrows for ``user``, are left out; one query per model checked.

    :param view: the model view the change was made through.
    :param objects: the objects the change acted on, and those it added or changed (:func:`written_rows`).
    :param user: the acting user.
    :param statements: what the block's statements changed (:attr:`Written.statements`): the rows ``UPDATE``
        statements changed are checked too, and those ``DELETE`` statements deleted left out.
    :returns: the rows outside, in the order given (each once), then those of the statements.
    """
    session = erlen_db.get_session()
    by_model: dict[type, dict[t.Any, t.Any]] = {}
    for obj in objects:
        state = sa.inspect(obj)
        if state.was_deleted or obj in session.deleted or state.identity is None:
            continue
        if statements is not None and statements.gone(obj):
            continue
        by_model.setdefault(type(obj), {}).setdefault(state.identity, obj)
    found: list[Outside] = []
    for model, alive in by_model.items():
        found.extend(_outside_of(view, model, alive, user))
    order: dict[int, int] = {}
    for obj in objects:  # by id: a model may define __eq__ without __hash__
        order.setdefault(id(obj), len(order))
    found.sort(key=lambda row: order[id(row.obj)])
    if statements is not None:
        for model, keys in statements.updated.items():
            checked = by_model.get(model, {})
            found.extend(_updated_outside(view, model, [key for key in keys if key not in checked], user))
    return found


def _updated_outside(view: ModelView, model: type, keys: list[tuple[t.Any, ...]], user: t.Any) -> list[Outside]:
    """The rows of ``model`` with the keys ``keys`` that an ``UPDATE`` statement changed and left outside the
    scope (read in one query; the objects of those outside loaded in one more, to name them). A key no row has
    any longer (the statement changed it) is counted as a row the user may not see: it cannot be named.

    :param view: the acting view.
    :param model: the mapped class of the table the statement changed.
    :param keys: the keys of the rows it changed (before it).
    :param user: the acting user.
    """
    inside = _inside(view, model, keys, user) if keys else None
    if inside is None:
        return []
    outside = [key for key in keys if key not in inside]
    if not outside:
        return []
    mapper: sa.orm.Mapper[t.Any] = sa.inspect(model)
    condition = keys_in(list(mapper.primary_key), outside)
    rows: list[t.Any] = list(erlen_db.get_session().scalars(sa.select(model).where(condition)))
    loaded = {tuple(mapper.identity_key_from_instance(obj)[1]): obj for obj in rows}
    own = issubclass(model, view.model)
    namer = view if own else _namer(model, user)
    found = []
    for key in outside:
        obj = loaded.get(key)
        if obj is None:
            found.append(Outside(None, "", own, hidden=True))
        else:
            found.append(Outside(obj, namer.title(obj) if isinstance(obj, namer.model) else str(obj), own))
    return found


def _outside_of(view: ModelView, model: type, alive: dict[t.Any, t.Any], user: t.Any) -> list[Outside]:
    """:func:`rows_outside` for the objects of one mapped class, ``alive`` by identity key.

    :param view: the acting view.
    :param model: the objects' class.
    :param alive: the objects not deleted, by their identity (primary key tuple).
    :param user: the acting user.
    """
    inside = _inside(view, model, list(alive), user)
    if inside is None:
        return []
    own = issubclass(model, view.model)
    namer = view if own else _namer(model, user)
    return [
        Outside(obj, namer.title(obj) if isinstance(obj, namer.model) else str(obj), own)
        for identity, obj in alive.items()
        if tuple(identity) not in inside
    ]


def _narrowing(view: ModelView, model: type, user: t.Any) -> RowsFilter | None:
    """The scope the rows of ``model`` written through ``view`` are checked through; ``None``: not checked.

    :param view: the acting view.
    :param model: a mapped class.
    :param user: the acting user.
    """
    if issubclass(model, view.model):
        # The rows of the acting view's model are checked through its scope alone.
        return None if view.scope is None else functools.partial(_scoped, view, user=user)
    table = sa.inspect(model).local_table
    if not isinstance(table, sa.Table):
        return None  # mapped to a join or a subquery: no view has it as its table
    return rows_filter(table, user)  # None: no view of the model, or none narrowing its rows for the user


def _namer(model: type, user: t.Any) -> ModelView:
    """The view of ``model`` (another model than the acting view's, with a view) whose titles name its rows."""
    views = registry_of().views_for_table(t.cast(sa.Table, sa.inspect(model).local_table).name)
    return next((found for found in views if found.allows(user, "view")), views[0])


def _inside(view: ModelView, model: type, identities: t.Sequence[t.Any], user: t.Any) -> set[tuple[t.Any, ...]] | None:
    """Which of ``identities`` (primary key tuples of ``model``'s rows) are in ``user``'s scope, as the session
    reads them now; ``None`` when the rows of ``model`` are not checked (see :func:`_narrowing`).

    :param view: the acting view.
    :param model: a mapped class.
    :param identities: primary key tuples.
    :param user: the acting user.
    """
    narrowing = _narrowing(view, model, user)
    if narrowing is None:
        return None
    mapper: sa.orm.Mapper[t.Any] = sa.inspect(model)
    keys = list(mapper.primary_key)
    statement = narrowing(sa.select(model)).with_only_columns(*keys).where(keys_in(keys, identities))
    return {tuple(row) for row in erlen_db.get_session().execute(statement)}


def undo(view: ModelView, rows: t.Sequence[Outside], user: t.Any) -> list[Outside]:
    """Roll the change back, and mark which of ``rows`` ``user`` could not see before it (``hidden``).

    A change may write rows that were outside the user's scope before it too (a callback renaming every note of
    a team, the archived ones an editor may not see): the change is refused for them as well, but naming them
    would show the user titles they may not read. Once rolled back, the rows that existed before the change are
    read through the scopes again (one query per model), as the user would see them now.

    :param view: the model view the change was made through.
    :param rows: the rows outside, from :func:`rows_outside` (their titles taken before the rollback).
    :param user: the acting user.
    :returns: ``rows``, in the same order, those the user could not see marked ``hidden``.
    """
    erlen_db.get_session().rollback()
    earlier: dict[type, dict[t.Any, Outside]] = {}
    for row in rows:
        if row.obj is None:
            continue  # a row whose key a statement changed: counted, never named (hidden already)
        state = sa.inspect(row.obj)
        if state.persistent and state.identity is not None:  # the rows the change added are transient again
            earlier.setdefault(type(row.obj), {})[state.identity] = row
    hidden: set[int] = set()
    for model, by_identity in earlier.items():
        inside = _inside(view, model, list(by_identity), user) or set()
        hidden.update(id(row) for identity, row in by_identity.items() if tuple(identity) not in inside)
    return [dataclasses.replace(row, hidden=True) if id(row) in hidden else row for row in rows]


def _scoped(view: ModelView, statement: sa.Select[t.Any], *, user: t.Any) -> sa.Select[t.Any]:
    """``statement`` narrowed by ``view``'s scope for ``user`` (a :data:`~erlen_admin.related.RowsFilter`)."""
    return view.scoped(statement, user)


def _rows_text(rows: t.Sequence[Outside], what: str) -> str:
    """What happened to ``rows`` (from :func:`undo`), for a sentence: the first ten the user could see named as
    left outside ``what`` they may see, the ones they could not only counted."""
    titles = [row.title for row in rows if not row.hidden]
    hidden = len(rows) - len(titles)
    said = []
    if titles:
        shown = ", ".join(titles[:10]) + (f" and {len(titles) - 10} more" if len(titles) > 10 else "")
        said.append(f"left {shown} outside the {what} you may see and change here")
    if hidden:
        said.append(f"changed {hidden} {'row' if hidden == 1 else 'rows'} you may not see")
    return " and ".join(said)


def _what(view: ModelView, rows: t.Sequence[Outside]) -> str:
    """What the rows are, for "outside the … you may see": the view's plural when they are all its model's."""
    return view.plural.lower() if all(row.own for row in rows if not row.hidden) else "rows"


def left_outside(view: ModelView, rows: t.Sequence[Outside]) -> str:
    """The sentence saying that an action would have left ``rows`` outside the rows the user may see.

    :param view: the model view.
    :param rows: the rows, from :func:`undo`.
    """
    return f"it would have {_rows_text(rows, _what(view, rows))}, so it was rolled back."


def save_refused(view: ModelView, obj: t.Any, rows: t.Sequence[Outside]) -> str:
    """What the create or edit form of ``obj`` says when its save would have left ``rows`` outside the scopes.

    :param view: the model view.
    :param obj: the object created or edited.
    :param rows: the rows outside, from :func:`undo` (not empty).
    """
    if [row.obj for row in rows] == [obj]:
        return OUTSIDE_SCOPE.format(name=view.name.lower())
    return SAVE_REFUSED.format(what=_rows_text(rows, _what(view, rows)))
