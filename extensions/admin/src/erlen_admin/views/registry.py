"""The admin views of one app, gathered from every plugin's ``erlen_admin_views``."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field, replace

from flask import Flask, current_app

import erlen

if t.TYPE_CHECKING:
    from ..widgets import Widget
    from .model_view import ModelView
    from .pages import AdminPage

#: The key of the registry in ``app.extensions``.
EXTENSION_KEY = "admin"


def plugin_title(plugin: str, app: Flask | None = None) -> str:
    """A plugin's heading ("Accounts", "My blog"): the ``title`` it declares, else its name made a word.

    The dashboard's and sidebar's groups and erlen-auth's permission groups on a role's page are headed by it.
    The core decides: this is ``erlen.plugins_of(app).title_of(plugin)``.

    :param plugin: the plugin's name (``auth``, ``my_blog``).
    :param app: the app whose plugins to ask; by default the current app.
    """
    return erlen.plugins_of(app).title_of(plugin)


@dataclass
class Group:
    """The views one plugin registered, as the dashboard shows them."""

    plugin: str
    models: list[ModelView] = field(default_factory=list)
    pages: list[AdminPage] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The group's heading, in the current app: its plugin's :func:`plugin_title` ("Accounts", "My blog")."""
        return plugin_title(self.plugin)


class AdminRegistry:
    """Every model view and page of an app, by slug, grouped by plugin.

    :param app: the app.
    :raises AdminConfigError: two views share a slug, or a hook returned something else.
    """

    def __init__(self, app: Flask) -> None:
        # Imported here: the template globals and the navigation import this module when the app is created,
        # which `erlen --help` does without SQLAlchemy; the registry is built when the models are set up.
        from .model_view import AdminConfigError, ModelView
        from .pages import AdminPage

        self.models: dict[str, ModelView] = {}
        self.pages: dict[str, AdminPage] = {}
        self.groups: list[Group] = []
        self.by_table: dict[str, ModelView] = {}
        #: Every model view of each table, in the order they were registered (a table may have several).
        self.all_by_table: dict[str, list[ModelView]] = {}
        #: The dashboard's widgets, in the order of the plugins that give them.
        self.widgets: list[Widget] = []
        plugins = erlen.plugins_of(app)
        for plugin, views in plugins.call_each("erlen_admin_views", app=app):
            group = Group(plugin.name)
            for view in erlen.hook_items(plugin.name, "erlen_admin_views", views, "ModelView or AdminPage objects"):
                if isinstance(view, ModelView):
                    if view.slug in self.models:
                        raise AdminConfigError(
                            f"Plugins {self.models[view.slug].plugin!r} and {plugin.name!r} both register an admin "
                            f"model view with the slug {view.slug!r}; give one another slug."
                        )
                    view.plugin = plugin.name
                    if view.separate_export_permission is None and "export" not in view.permission_names:
                        view.export_separately = bool(app.config.get("ADMIN_EXPORT_PERMISSION", False))
                    view.actions = [
                        action if action.plugin else replace(action, plugin=plugin.name) for action in view.actions
                    ]
                    view.object_actions = [
                        action if action.plugin else replace(action, plugin=plugin.name)
                        for action in view.object_actions
                    ]
                    self.models[view.slug] = view
                    self.by_table.setdefault(view.table.name, view)
                    self.all_by_table.setdefault(view.table.name, []).append(view)
                    group.models.append(view)
                elif isinstance(view, AdminPage):
                    if view.slug in self.pages:
                        raise AdminConfigError(
                            f"Plugins {self.pages[view.slug].plugin!r} and {plugin.name!r} both register an admin "
                            f"page with the slug {view.slug!r}."
                        )
                    view.plugin = plugin.name
                    self.pages[view.slug] = view
                    group.pages.append(view)
                else:
                    raise AdminConfigError(
                        f"Plugin {plugin.name!r}: erlen_admin_views must return ModelView or AdminPage objects, "
                        f"not {type(view).__name__}."
                    )
            if group.models or group.pages:
                self.groups.append(group)
        for view in self.models.values():
            for giver, actions in plugins.call_each("erlen_admin_actions", app=app, view=view):
                view.add_actions(
                    erlen.hook_items(giver.name, "erlen_admin_actions", actions, "Action objects"), plugin=giver.name
                )
        self._add_widgets(app)

    def _add_widgets(self, app: Flask) -> None:
        from ..widgets import Widget
        from .model_view import AdminConfigError

        slugs: dict[str, str] = {}
        for plugin, widgets in erlen.plugins_of(app).call_each("erlen_admin_widgets", app=app):
            for widget in erlen.hook_items(plugin.name, "erlen_admin_widgets", widgets, "Widget objects"):
                if not isinstance(widget, Widget):
                    raise AdminConfigError(
                        f"Plugin {plugin.name!r}: erlen_admin_widgets must return Widget objects, "
                        f"not {type(widget).__name__}."
                    )
                if widget.slug in slugs:
                    raise AdminConfigError(
                        f"Plugins {slugs[widget.slug]!r} and {plugin.name!r} both give a dashboard widget with the "
                        f"slug {widget.slug!r}; give one another slug."
                    )
                slugs[widget.slug] = plugin.name
                widget.plugin = plugin.name
                self.widgets.append(widget)

    def permissions(self) -> dict[str, str]:
        """The permissions of every model view."""
        found: dict[str, str] = {}
        for view in self.models.values():
            found.update(view.permissions())
        return found

    def view_for_table(self, table: str) -> ModelView | None:
        """The model view of the table named ``table``, if one is registered (the first, when there are several:
        :meth:`views_for_table`)."""
        return self.by_table.get(table)

    def views_for_table(self, table: str) -> list[ModelView]:
        """Every model view of the table named ``table``, in the order they were registered; empty if none."""
        return self.all_by_table.get(table, [])


def registry_of(app: Flask | None = None) -> AdminRegistry:
    """The admin registry of ``app`` (or the current app), built on first use."""
    app = app if app is not None else t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    registry = app.extensions.get(EXTENSION_KEY)
    if registry is None:
        registry = app.extensions[EXTENSION_KEY] = AdminRegistry(app)
    return t.cast(AdminRegistry, registry)
