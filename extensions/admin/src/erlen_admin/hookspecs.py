"""The hook specifications of the admin plugin.

Plugins implement them with :data:`erlen.hookimpl`; a plugin that also works
without the admin marks its implementations ``@erlen.hookimpl(optionalhook=True)``.
"""

# The specifications are stubs: their bodies are their docstrings.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import typing as t
from collections.abc import Iterable

from erlen import hookspec

if t.TYPE_CHECKING:
    from flask import Flask

    from .actions import Action
    from .object_actions import ObjectAction
    from .views.model_view import ModelView
    from .views.pages import AdminPage


@hookspec
def erlen_admin_views(app: Flask) -> Iterable[ModelView | AdminPage]:
    """Register the plugin's admin views: model views and custom pages.

    They are shown on the dashboard under the plugin's name. The app registers
    its own the same way, from a module of its own listed in ``PLUGINS``.

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_admin_views():
            from erlen_admin import AdminPage, ModelView
            from .models import Post

            return [
                ModelView(Post, list_columns=["title", "author_id"], search=["title"], sortable=["title"]),
                AdminPage("Statistics", stats_view),
            ]

    Each model view gets the permissions ``admin.<slug>.view``, ``.create``,
    ``.edit`` and ``.delete``, declared automatically.

    Called once per app while it is being set up (when erlen-auth collects
    permissions, before the registering plugin's ``erlen_init_app``): build
    the views from classes, not from state your plugin sets up later.

    :param app: the app being created.
    """


@hookspec
def erlen_admin_actions(app: Flask, view: ModelView) -> Iterable[Action | ObjectAction] | None:
    """Add bulk actions (``erlen_admin.Action``) and actions on one object
    (``erlen_admin.ObjectAction``, offered on its detail page) to a model view of any plugin
    (the app's included).

    Called once per model view when the admin is set up:

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_admin_actions(view):
            if view.model is Post:
                return [Action("publish", "Publish", publish_posts, permission="edit")]

    :param app: the app being created.
    :param view: the model view.
    """
