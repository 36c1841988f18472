"""Foreign keys to the rows of scoped views: which related rows a user may choose, and see named.

A view ``A`` whose model has a foreign key to the model of a view ``B`` with a ``scope`` offers, accepts and
names only ``B``'s rows inside ``B``'s scope for the current user: the selects of ``A``'s create and edit forms
and of its list's filters (erlen-forms' :class:`~erlen_forms.ModelSelectField`, narrowed through
:meth:`~erlen_forms.ModelSelectField.restrict_rows`; erlen-forms' search endpoint is narrowed by the hook
``erlen_forms_fk_search_rows`` in :mod:`erlen_admin.plugin`), and the labels of ``A``'s list, detail page and
export (:func:`erlen_admin.listing.related_labels`). A related row outside the scope is treated as one that does
not exist: it is not offered, a submitted key of it gets the field's "Not a valid choice.", and pages show its
bare key, without a link or its label. Without a view of ``B``, or without a scope, nothing is narrowed. A model
with several views is narrowed by the views of it the user may view (see :func:`rows_filter`).
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable

import sqlalchemy as sa

from .views.registry import registry_of

#: Narrows a ``SELECT`` of a related table's rows to those a user may see.
RowsFilter = Callable[[sa.Select[t.Any]], sa.Select[t.Any]]


def rows_filter(table: sa.Table, user: t.Any) -> RowsFilter | None:
    """The narrowing of ``table``'s rows to its admin view's scope for ``user``; ``None`` when nothing narrows.

    A table with several views is narrowed to the rows of the scopes of those ``user`` may view (not narrowed
    when one of them has no scope for ``user``), or of all its scoped views when ``user`` may view none of them:
    never by which view a plugin happened to register first.

    :param table: the table a foreign key refers to.
    :param user: the user the rows are offered to or shown to.
    """
    views = registry_of().views_for_table(table.name)
    if len(views) == 1:
        (target,) = views
        if not target.narrows(user):
            return None
        return lambda statement: target.scoped(statement, user)
    # Several views of one table ("my teams", scoped, and "all teams" for some): the rows of those the user may
    # view, whichever was registered first; of them all when they may view none.
    viewable = [view for view in views if view.allows(user, "view")]
    if viewable and not all(view.narrows(user) for view in viewable):
        return None  # one of them shows the user every row
    chosen = [view for view in viewable or views if view.narrows(user)]
    if not chosen:
        return None
    if len(chosen) == 1:
        (target,) = chosen
        return lambda statement: target.scoped(statement, user)

    def narrowing(statement: sa.Select[t.Any]) -> sa.Select[t.Any]:
        return statement.where(
            sa.or_(*(view.pk_column.in_(view.scoped(sa.select(view.pk_column), user)) for view in chosen))
        )

    return narrowing


def restrict_choices(form: t.Iterable[t.Any], user: t.Any) -> None:
    """Narrow every foreign-key field of ``form`` to the related rows ``user`` may see (see the module).

    Called on a form before it is validated or rendered; fields other than erlen-forms'
    :class:`~erlen_forms.ModelSelectField`, found in sub-forms and lists of fields too, are left alone.

    :param form: the form (create, edit or a list's filters), iterated for its fields.
    :param user: the current user.
    """
    for field in _select_fields(form):
        narrowing = rows_filter(field.remote_table, user)
        if narrowing is not None:
            field.restrict_rows(narrowing)


def _select_fields(fields: t.Iterable[t.Any]) -> t.Iterator[t.Any]:
    """The :class:`~erlen_forms.ModelSelectField` of ``fields``, those of sub-forms and lists of fields too (a
    view's own form class may nest them: ``FormField``, ``FieldList``)."""
    from wtforms import FieldList, FormField

    from erlen_forms import ModelSelectField

    for field in fields:
        if isinstance(field, ModelSelectField):
            yield field
        elif isinstance(field, FormField):
            yield from _select_fields(field.form)
        elif isinstance(field, FieldList):
            yield from _select_fields(field.entries)


__all__ = ["RowsFilter", "restrict_choices", "rows_filter"]
