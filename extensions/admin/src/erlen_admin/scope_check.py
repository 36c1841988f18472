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
rolls the whole change back, and the message names the rows.
"""

from __future__ import annotations

import contextlib
import functools
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Mapper

import erlen_db

from .related import RowsFilter, rows_filter
from .views.model_view import ModelView
from .views.registry import registry_of

#: What a create or edit form says when the saved row itself would fall outside the view's scope for the user.
OUTSIDE_SCOPE = (
    "Nothing was saved: with these values the {name} would be outside the rows you may see and change here. "
    "Change the values that decide it, or ask someone who may see such rows."
)

#: What a create or edit form says when the save would leave other rows outside the user's scopes.
SAVE_LEFT_OUTSIDE = (
    "Nothing was saved: the save would have left {rows} outside the {what} you may see and change here. "
    "Change the values that decide it, or ask someone who may see such rows."
)


@dataclass(frozen=True)
class Outside:
    """A row a change would have left outside the user's scope.

    :param obj: the object.
    :param title: the row named for a sentence (:meth:`ModelView.title` of a view of its model).
    :param own: whether it is a row of the acting view's model (checked through that view's scope).
    """

    obj: t.Any
    title: str
    own: bool


@contextlib.contextmanager
def written_rows() -> Iterator[list[t.Any]]:
    """The objects that the flushes within the block insert or change, collected in the list it gives.

    Each flush is watched (``before_flush``): a callback, ``create_object`` or ``update_object`` may flush by
    itself (a query autoflushes), after which its rows are no longer among the session's ``new`` or ``dirty``.
    An object marked dirty whose columns did not change (a value set to itself) is left out. Deleted objects
    are not collected. End the block with a flush, so that nothing written in it is missed.
    """
    session = erlen_db.get_session()
    written: list[t.Any] = []
    seen: set[int] = set()

    def collect(flushing: t.Any, context: t.Any, instances: t.Any) -> None:
        # The new in the order they were added; the changed (an unordered set) by class and key, so that a
        # message naming them says them in the same order every time.
        changed = sorted(
            (obj for obj in flushing.dirty if flushing.is_modified(obj, include_collections=False)),
            key=lambda obj: (type(obj).__module__, type(obj).__qualname__, sa.inspect(obj).identity),
        )
        for obj in [*flushing.new, *changed]:
            if id(obj) not in seen:
                seen.add(id(obj))
                written.append(obj)

    sa.event.listen(session, "before_flush", collect)
    try:
        yield written
    finally:
        sa.event.remove(session, "before_flush", collect)


def rows_outside(view: ModelView, objects: t.Sequence[t.Any], user: t.Any) -> list[Outside]:
    """The rows of ``objects`` (flushed) that a change made through ``view`` left outside ``user``'s scopes.

    Read in the change's transaction, after its flush: the rows of ``view``'s model through ``view``'s scope,
    those of other models through the scopes of their views for ``user`` (see the module). Deleted objects,
    and those of models no scope narrows for ``user``, are left out; one query per model checked.

    :param view: the model view the change was made through.
    :param objects: the objects the change acted on, and those it added or changed (:func:`written_rows`).
    :param user: the acting user.
    :returns: the rows outside, in the order given (each once).
    """
    session = erlen_db.get_session()
    by_model: dict[type, dict[t.Any, t.Any]] = {}
    for obj in objects:
        state = sa.inspect(obj)
        if state.was_deleted or obj in session.deleted or state.identity is None:
            continue
        by_model.setdefault(type(obj), {}).setdefault(state.identity, obj)
    found: list[Outside] = []
    for model, alive in by_model.items():
        found.extend(_outside_of(view, model, alive, user))
    order: dict[int, int] = {}
    for obj in objects:  # by id: a model may define __eq__ without __hash__
        order.setdefault(id(obj), len(order))
    return sorted(found, key=lambda row: order[id(row.obj)])


def _outside_of(view: ModelView, model: type, alive: dict[t.Any, t.Any], user: t.Any) -> list[Outside]:
    """:func:`rows_outside` for the objects of one mapped class, ``alive`` by identity key.

    :param view: the acting view.
    :param model: the objects' class.
    :param alive: the objects not deleted, by their identity (primary key tuple).
    :param user: the acting user.
    """
    mapper: Mapper[t.Any] = sa.inspect(model)
    own = issubclass(model, view.model)
    narrowing: RowsFilter | None
    if own:
        if view.scope is None:
            return []  # the rows of the acting view's model are checked through its scope alone
        namer = view
        narrowing = functools.partial(_scoped, view, user=user)
    else:
        table = mapper.local_table
        if not isinstance(table, sa.Table):
            return []  # mapped to a join or a subquery: no view has it as its table
        narrowing = rows_filter(table, user)
        if narrowing is None:
            return []  # no view of the model, or none narrowing its rows for the user
        views = registry_of().views_for_table(table.name)
        namer = next((found for found in views if found.allows(user, "view")), views[0])
    keys = list(mapper.primary_key)
    statement = narrowing(sa.select(model)).with_only_columns(*keys)
    if len(keys) == 1:
        statement = statement.where(keys[0].in_([identity[0] for identity in alive]))
    else:
        statement = statement.where(sa.tuple_(*keys).in_(list(alive)))
    inside = {tuple(row) for row in erlen_db.get_session().execute(statement)}
    return [
        Outside(obj, namer.title(obj) if isinstance(obj, namer.model) else str(obj), own)
        for identity, obj in alive.items()
        if tuple(identity) not in inside
    ]


def _scoped(view: ModelView, statement: sa.Select[t.Any], *, user: t.Any) -> sa.Select[t.Any]:
    """``statement`` narrowed by ``view``'s scope for ``user`` (a :data:`~erlen_admin.related.RowsFilter`)."""
    return view.scoped(statement, user)


def _rows_text(titles: t.Sequence[str]) -> str:
    """``titles`` joined for a sentence: the first ten, then how many more."""
    return ", ".join(titles[:10]) + (f" and {len(titles) - 10} more" if len(titles) > 10 else "")


def _what(view: ModelView, rows: t.Sequence[Outside]) -> str:
    """What the rows are, for "outside the … you may see": the view's plural when they are all its model's."""
    return view.plural.lower() if all(row.own for row in rows) else "rows"


def left_outside(view: ModelView, rows: t.Sequence[Outside]) -> str:
    """The sentence saying that an action would have left ``rows`` outside the rows the user may see.

    :param view: the model view.
    :param rows: the rows, from :func:`rows_outside`.
    """
    return (
        f"it would have left {_rows_text([row.title for row in rows])} outside the {_what(view, rows)} you may see "
        "and change here, so it was rolled back."
    )


def save_refused(view: ModelView, obj: t.Any, rows: t.Sequence[Outside]) -> str:
    """What the create or edit form of ``obj`` says when its save would have left ``rows`` outside the scopes.

    :param view: the model view.
    :param obj: the object created or edited.
    :param rows: the rows outside, from :func:`rows_outside` (not empty).
    """
    if [row.obj for row in rows] == [obj]:
        return OUTSIDE_SCOPE.format(name=view.name.lower())
    return SAVE_LEFT_OUTSIDE.format(rows=_rows_text([row.title for row in rows]), what=_what(view, rows))
