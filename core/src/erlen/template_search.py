"""A template that no folder holds: the error says where Erlen looked and how a plugin ships its templates.

Flask's loader answers a missing template with Jinja's bare ``TemplateNotFound: bookclub/index.html``,
which says nothing of the folders searched. In an Erlen app the usual cause is a plugin whose templates
were never registered (it does not implement ``erlen_template_folders``, or returns another folder), so the
error names the folders searched, the plugins that gave them, and the hook.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Sequence

from flask import Flask
from jinja2 import BaseLoader, Environment, TemplateNotFound


class ExplainingLoader(BaseLoader):
    """A loader that finds what ``inner`` finds, and explains what it does not find.

    :param inner: the environment's loader (Flask's, which searches the app's folder, the plugins' and the
        blueprints').
    :param searched: says where ``inner`` looks, for the error; called only when a template is missing.
    """

    def __init__(self, inner: BaseLoader, searched: Callable[[], str]) -> None:
        self.inner = inner
        self.searched = searched

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        """The source of ``template``, as ``inner`` gives it.

        :param environment: the Jinja environment.
        :param template: the template's name.
        :raises TemplateNotFound: no folder holds it; the message says which were searched.
        """
        try:
            return self.inner.get_source(environment, template)
        except TemplateNotFound as exc:
            if exc.name != template:
                raise
            raise TemplateNotFound(template, f"Template {template!r} not found. {self.searched()}") from None

    def list_templates(self) -> list[str]:
        """Every template ``inner`` can find."""
        return self.inner.list_templates()


def where_templates_are_searched(app: Flask, plugin_folders: Sequence[tuple[str, str]]) -> str:
    """The folders ``app`` loads templates from, in the order searched, and how a plugin adds its own.

    :param app: the app.
    :param plugin_folders: each plugin's template folder, as (plugin name, folder), in the order searched.
    """
    places = []
    if app.template_folder:
        places.append(f"the app's templates folder ({app.root_path}/{app.template_folder})")
    places.extend(f"the folder of plugin {plugin!r} ({folder})" for plugin, folder in plugin_folders)
    blueprints = [name for name, blueprint in app.blueprints.items() if blueprint.template_folder]
    if blueprints:
        places.append(f"the template folders of the blueprints {', '.join(map(repr, blueprints))}")
    return (
        f"Searched {'; '.join(places) if places else 'no folder'}. A plugin ships its templates by returning their "
        "folder from the erlen_template_folders hook (templates/<plugin name>/... inside it, by convention); an "
        "app keeps its own in the templates folder beside its module."
    )


def install(app: Flask, plugin_folders: Sequence[tuple[str, str]]) -> None:
    """Make a missing template's error in ``app`` say where Erlen searched.

    :param app: the app, its loaders set up.
    :param plugin_folders: each plugin's template folder, as (plugin name, folder), in the order searched.
    """
    environment = app.jinja_env
    inner = t.cast(BaseLoader, environment.loader)
    environment.loader = ExplainingLoader(inner, lambda: where_templates_are_searched(app, plugin_folders))
