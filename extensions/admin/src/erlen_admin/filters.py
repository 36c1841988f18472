"""The controls of a list page's foreign-key filters: selects of the related rows, showing their labels.

A filter on a foreign key (``filters=["author_id"]``) is erlen-forms'
:class:`~erlen_forms.ModelSelectField`, the field model forms use for foreign
keys: a ``<select>`` of the related rows' labels while there are at most
``FORMS_FK_SELECT_LIMIT`` of them (one query, ``LIMIT`` the limit plus one),
otherwise a text input whose suggestions come from erlen-forms' search
endpoint as the user types (labels shown, the row's key sent), so a large
related table is never loaded whole. Both work with the keyboard; the select
needs no script, the search input's suggestions need erlen-forms' small
``fk-search.js``. The admin opens that endpoint to users who may view the
model holding the key (see ``erlen_forms_fk_search_allowed`` in the plugin).
"""

from __future__ import annotations

import typing as t

import wtforms
from markupsafe import Markup
from wtforms.validators import Optional

from .listing import FILTER_PREFIX, ListingParams
from .views.model_view import ModelView

#: The attribute of a model view that caches its filter form class.
_CACHE = "_fk_filter_form"


def foreign_key_filters(view: ModelView) -> list[str]:
    """The view's filter columns that are single foreign keys."""
    return [key for key in view.filter_keys if view.foreign_key(key) is not None]


def _form_class(view: ModelView) -> type[wtforms.Form]:
    cached = getattr(view, _CACHE, None)
    if cached is not None:
        return t.cast(type[wtforms.Form], cached)
    from erlen_forms import ModelSelectField

    fields = {
        FILTER_PREFIX + key: ModelSelectField(view.label(key), [Optional()], column=view.columns[key], blank_text="All")
        for key in foreign_key_filters(view)
    }
    form_class = t.cast(type[wtforms.Form], type(f"{view.model.__name__}FilterForm", (wtforms.Form,), fields))
    setattr(view, _CACHE, form_class)
    return form_class


def controls(view: ModelView, params: ListingParams, user: t.Any) -> dict[str, Markup]:
    """The rendered control of each foreign-key filter, by column attribute, with the chosen row selected.

    :param view: the model view.
    :param params: the list page's parameters (the filters already checked).
    :param user: the user the list is for: a filter offers only the related rows in their view's scope for them
        (see :mod:`erlen_admin.related`).
    """
    from .related import restrict_choices

    keys = foreign_key_filters(view)
    if not keys:
        return {}
    form = _form_class(view)(data={FILTER_PREFIX + key: params.filters.get(key) for key in keys})
    restrict_choices(form, user)
    return {key: Markup(form[FILTER_PREFIX + key](id=FILTER_PREFIX + key)) for key in keys}
