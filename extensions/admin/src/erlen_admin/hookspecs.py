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
    from .widgets import Widget


@hookspec
def erlen_admin_views(app: Flask) -> Iterable[ModelView | AdminPage]:
    """Register the plugin's admin views: model views and custom pages.

    They are shown on the dashboard and in the sidebar under the plugin's
    title (``erlen.Plugin(title=...)``, else its name made a word: see
    ``erlen_admin.plugin_title``). The app registers
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
    ``.edit`` and ``.delete``, declared automatically (and ``.export`` when
    the app sets ``ADMIN_EXPORT_PERMISSION`` or the view
    ``separate_export_permission=True``).

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


@hookspec
def erlen_admin_widgets(app: Flask) -> Iterable[Widget]:
    """Add boxes to the admin's dashboard: counts, recent activity, a small chart.

    Return :class:`erlen_admin.Widget` objects: a title and a function returning the box's HTML,
    called each time the dashboard is shown (after the access check and the widget's ``permission``).
    Render a template of your plugin, so Jinja escapes the values:

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_admin_widgets():
            from erlen_admin import Widget

            def newest_posts():
                from flask import render_template
                from erlen_db import session
                from .models import Post

                posts = session.scalars(sa.select(Post).order_by(Post.id.desc()).limit(5))
                return render_template("blog/admin_newest.html", posts=posts)

            return [Widget("Newest posts", newest_posts, permission="admin.blog_post.view")]

    A dashboard is opened often: keep each widget's queries independent of the tables' sizes. Count with
    :func:`erlen_admin.estimate` (the database's statistics) rather than ``COUNT(*)``, list with a
    ``LIMIT``, aggregate over a range of an indexed column. Draw a chart as inline SVG with a ``<title>``
    and a ``<desc>`` saying what it shows (the admin's page allows no scripts from elsewhere and no
    inline scripts). A widget that raises is logged, naming its plugin, and shown as a short notice: the
    rest of the dashboard still works.

    The admin's own widgets come first: "Records" (rows per model, estimated), "Recent changes" (the
    latest audit entries) and a chart of the audit log's entries per day over two weeks.

    Called once per app while the admin is set up.

    :param app: the app being created.
    """
