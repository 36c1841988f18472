"""The ``api`` plugin: typed REST APIs, problem details, the OpenAPI document and its docs."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Iterable, Mapping
from types import ModuleType

import click
from flask import Blueprint, Flask

import erlen

from . import hookspecs
from .docs import docs_blueprint
from .errorhandling import install_routing_handler
from .state import EXTENSION_KEY, ApiState

if t.TYPE_CHECKING:
    from flask.cli import AppGroup

PLUGIN = erlen.Plugin(
    name="api",
    integrates_with=["db", "forms", "auth"],
    description="Typed REST APIs: validated endpoints, problem details, OpenAPI 3.1 and interactive docs",
)


def _url_prefix(value: str) -> None:
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
        raise ValueError("must be a URL path such as /api, starting with a slash and not ending with one")


@erlen.hookimpl
def erlen_hookspecs() -> Iterable[ModuleType]:
    return [hookspecs]


@erlen.hookimpl
def erlen_settings() -> Iterable[erlen.Setting]:
    return [
        erlen.Setting(
            "URL_PREFIX",
            str,
            default="/api",
            validate=_url_prefix,
            help="Where the APIs live: each Api is served under it (followed by its version), and so are "
            "openapi.json and docs.",
        ),
        erlen.Setting("TITLE", str, default="API", help="The title of the OpenAPI document and of the docs page."),
        erlen.Setting("VERSION", str, default="1.0.0", help="The version of the OpenAPI document (info.version)."),
        erlen.Setting(
            "DESCRIPTION", str | None, default=None, help="The description of the OpenAPI document (Markdown)."
        ),
        erlen.Setting("DOCS", bool, default=True, help="Serve the interactive documentation (Swagger UI) at docs."),
        erlen.Setting(
            "CHECK_RESPONSES",
            bool | None,
            default=None,
            help="Validate every response against its declared type (a mismatch is a 500 and a logged error); "
            "None: in debug and testing only.",
        ),
    ]


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    state = ApiState()
    app.extensions[EXTENSION_KEY] = state
    state.add_prefix(app.config["API_URL_PREFIX"])
    install_routing_handler(app)


@erlen.hookimpl
def erlen_blueprints(app: Flask) -> Iterable[Blueprint | tuple[Blueprint, Mapping[str, t.Any]]]:
    from .resources import resource_blueprints

    return [(docs_blueprint(app), {"url_prefix": app.config["API_URL_PREFIX"]}), *resource_blueprints(app)]


@erlen.hookimpl
def erlen_cli_commands(cli: AppGroup) -> Iterable[click.Command]:
    from .cli import api_group

    return [api_group()]
