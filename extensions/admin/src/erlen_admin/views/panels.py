"""Panels: sections a model view adds to an object's detail page (related rows, forms of object actions)."""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from .model_view import ModelView

#: ``context(view, obj)``: the template's variables besides ``view``, ``obj``, ``ident`` and ``panel``.
PanelContext = Callable[["ModelView", t.Any], Mapping[str, t.Any]]


@dataclass(frozen=True)
class Panel:
    """A section of an object's detail page, under its fields: a related list, a form, a summary.

    The template is rendered on its own (it extends nothing) with ``view``, ``obj``, ``ident`` (the
    object's key), ``panel`` and what ``context`` returns; its forms post to the view's object actions
    (``url_for('admin.object_action', slug=view.slug, ident=ident, name=...)``) with a
    ``<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">``::

        Panel("Sessions", "auth/admin/sessions_panel.html", context=lambda view, user: {"rows": ...})

    :param title: the section's heading.
    :param template: the template of the section's body.
    :param context: more variables for the template, computed per request.
    :param permission: the model operation needed to see the panel (``view`` by default).
    """

    title: str
    template: str
    context: PanelContext | None = None
    permission: str = "view"

    def variables(self, view: ModelView, obj: t.Any) -> dict[str, t.Any]:
        """The template's variables for ``obj``."""
        found = dict(self.context(view, obj)) if self.context is not None else {}
        return {**found, "view": view, "obj": obj, "ident": view.pk_of(obj), "panel": self}
