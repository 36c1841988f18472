"""The ``forms`` plugin: its settings and hook implementations."""

from __future__ import annotations

import difflib
import importlib.util
import typing as t
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

import click
from flask import Blueprint, Flask, current_app, jsonify, request
from flask.cli import AppGroup, with_appcontext
from werkzeug.exceptions import RequestEntityTooLarge

import erlen

from . import csrf
from .malformed_bodies import strict_request_class
from .state import EXTENSION_KEY, FormsState, state_of

if t.TYPE_CHECKING:
    from erlen.checks import CheckMessage

PLUGIN = erlen.Plugin(
    name="forms",
    integrates_with=["db"],
    description="WTForms bound to the request, app-wide CSRF protection, accessible form rendering and uploads",
)

#: The default of ``FORMS_MAX_UPLOAD_SIZE``: 16 MiB.
DEFAULT_MAX_UPLOAD_SIZE = 16 * 1024 * 1024


def _non_negative(value: int | None) -> None:
    if value is not None and value < 0:
        raise ValueError("must not be negative")


@erlen.hookimpl
def erlen_hookspecs() -> Iterable[ModuleType]:
    from . import hookspecs

    return [hookspecs]


@erlen.hookimpl
def erlen_settings() -> Iterable[erlen.Setting]:
    return [
        erlen.Setting(
            "CSRF_ENABLED",
            bool,
            default=True,
            help="Refuse POST, PUT, PATCH, DELETE (every method but GET, HEAD, OPTIONS and TRACE) without a "
            "valid CSRF token, on every route.",
        ),
        erlen.Setting(
            "CSRF_TIME_LIMIT",
            int | None,
            default=8 * 3600,
            help="Seconds a CSRF token stays valid; None for as long as the session.",
            validate=_non_negative,
        ),
        erlen.Setting("CSRF_FIELD_NAME", str, default="csrf_token", help="The form field that carries the CSRF token."),
        erlen.Setting(
            "CSRF_HEADERS",
            list[str],
            default=["X-CSRF-Token", "X-CSRFToken"],
            help="Request headers that may carry the CSRF token, for fetch and AJAX requests.",
        ),
        erlen.Setting(
            "CSRF_SSL_STRICT",
            bool,
            default=True,
            help="On HTTPS, also require the Origin (or Referer) header to name this site.",
        ),
        erlen.Setting(
            "CSRF_TRUSTED_ORIGINS",
            list[str],
            default=[],
            help="Other origins (https://example.com) accepted by the HTTPS origin check.",
        ),
        erlen.Setting(
            "MAX_UPLOAD_SIZE",
            int | None,
            default=DEFAULT_MAX_UPLOAD_SIZE,
            help="The largest request body in bytes; larger requests get a 413. Sets Flask's MAX_CONTENT_LENGTH "
            "unless the app sets that itself. None for no limit.",
            validate=_non_negative,
        ),
        erlen.Setting(
            "FK_SEARCH_PUBLIC",
            bool,
            default=False,
            help="Model forms: let anyone search the rows foreign keys refer to, when no plugin decides "
            "through erlen_forms_fk_search_allowed.",
        ),
        erlen.Setting(
            "FK_SELECT_LIMIT",
            int,
            default=100,
            help="Model forms: a foreign key to a table with more rows than this gets a search-as-you-type "
            "field instead of a select listing every row.",
            validate=_non_negative,
        ),
    ]


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    state = FormsState()
    app.extensions[EXTENSION_KEY] = state
    for plugin, names in erlen.plugins_of(app).call_each("erlen_forms_csrf_exempt"):
        expected = "endpoint or blueprint names to the reason each is exempt"
        for name, reason in erlen.hook_mapping(plugin.name, "erlen_forms_csrf_exempt", names, expected).items():
            if not isinstance(reason, str) or not reason.strip():
                raise erlen.PluginError(
                    f"Plugin {plugin.name!r}: erlen_forms_csrf_exempt must give a reason for exempting {name!r}.",
                    plugin=plugin.name,
                )
            state.hook_exemptions[name] = (plugin.name, reason.strip())
    limit = app.config.get("FORMS_MAX_UPLOAD_SIZE")
    if app.config.get("MAX_CONTENT_LENGTH") is None and limit is not None:
        app.config["MAX_CONTENT_LENGTH"] = limit
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    # A malformed form body is a 400 with the reason, not an empty form that an edit view would save as blanks.
    app.request_class = strict_request_class(app.request_class)


def _too_large(exc: RequestEntityTooLarge) -> t.Any:
    config = current_app.config
    limit = config.get("MAX_CONTENT_LENGTH")
    length = request.content_length
    body: dict[str, t.Any] = {"error": "too_large"}
    if isinstance(limit, int) and (length is None or length > limit):
        message = f"The request is larger than the limit of {_megabytes(limit)}."
    elif request.mimetype == "multipart/form-data":
        # The body is within MAX_CONTENT_LENGTH: Werkzeug refused one text field over MAX_FORM_MEMORY_SIZE
        # (500 KB by default) or more than MAX_FORM_PARTS fields. Saying "larger than 16 MB" would be false.
        field_limit, parts = config.get("MAX_FORM_MEMORY_SIZE"), config.get("MAX_FORM_PARTS")
        message = "A text field of the form is too long, or the form has too many fields."
        if isinstance(field_limit, int) and isinstance(parts, int):
            message = (
                f"A text field of the form is longer than the limit of {_megabytes(field_limit)}, "
                f"or the form has more than {parts} fields."
            )
        current_app.logger.info(
            "%s %s refused with 413: a multipart text field is over MAX_FORM_MEMORY_SIZE (%s) or there are more "
            "than MAX_FORM_PARTS (%s) parts; raise those settings if such forms are expected.",
            request.method,
            request.path,
            field_limit,
            parts,
        )
        body.update({"max_field_size": field_limit, "max_fields": parts})
    else:
        message = "The request is larger than the server accepts."
    if csrf.wants_json():
        response = jsonify({**body, "message": message, "max_size": limit})
    else:
        response = erlen.render_error_page(
            413,
            title="The upload is too large",
            detail=message,
            template="forms/too_large.html",
            message=message,
            limit=limit,
        )
    response.status_code = 413
    return response


def _megabytes(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size} bytes" if size < 1024 else f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


@erlen.hookimpl(tryfirst=True)
def erlen_before_request() -> t.Any:
    # tryfirst: no other plugin's before-request hook may answer a forged request before it is refused.
    return csrf.protect()


@erlen.hookimpl
def erlen_blueprints(app: Flask) -> Iterable[tuple[Blueprint, Mapping[str, t.Any]]]:
    # The foreign-key search of model forms needs erlen-db, an optional dependency, enabled on the app.
    if "db" not in erlen.plugins_of(app) or importlib.util.find_spec("sqlalchemy") is None:
        return []
    from .search import make_blueprint

    return [(make_blueprint(), {"url_prefix": "/_forms"})]


@erlen.hookimpl
def erlen_static_folder() -> str:
    return str(Path(__file__).parent / "static")


@erlen.hookimpl
def erlen_template_folders() -> Iterable[str]:
    return [str(Path(__file__).parent / "templates")]


@erlen.hookimpl
def erlen_template_globals() -> Mapping[str, t.Any]:
    return {"csrf_token": csrf.csrf_token, "csrf_field": csrf.csrf_field}


@erlen.hookimpl
def erlen_checks(app: Flask, deploy: bool) -> Iterable[CheckMessage]:
    # Imported when called: only `erlen check` runs the checks, never a worker.
    from erlen.checks import error, info, warning

    messages: list[CheckMessage] = []
    enabled = app.config.get("FORMS_CSRF_ENABLED", True)
    if enabled and not app.config.get("SECRET_KEY"):
        messages.append(
            error(
                "forms.E001",
                "CSRF protection is on but SECRET_KEY is not set, so no token can be signed and every "
                "POST, PUT, PATCH and DELETE will be refused.",
                "Set SECRET_KEY (or the environment variable ERLEN_SECRET_KEY) to a long random string.",
            )
        )
    if not enabled:
        messages.append(
            (warning if deploy else info)(
                "forms.W001",
                "CSRF protection is off (FORMS_CSRF_ENABLED = false): other sites can submit forms "
                "in your users' names.",
                "Turn it on, and exempt only the views that are not authenticated by the session cookie.",
            )
        )
    if deploy and app.config.get("MAX_CONTENT_LENGTH") is None:
        messages.append(
            warning(
                "forms.W002",
                "No request size limit is set (MAX_CONTENT_LENGTH and FORMS_MAX_UPLOAD_SIZE are None).",
                "Set FORMS_MAX_UPLOAD_SIZE to the largest upload you accept, in bytes.",
            )
        )
    if deploy and app.config.get("FORMS_FK_SEARCH_PUBLIC"):
        messages.append(
            warning(
                "forms.W003",
                "FORMS_FK_SEARCH_PUBLIC is on: anyone can list the keys and labels of rows that foreign keys "
                "of model forms refer to.",
                "Turn it off and allow the search through the hook erlen_forms_fk_search_allowed.",
            )
        )
    messages.extend(_unknown_exemptions(app))
    for item in csrf.exemptions(app):
        messages.append(
            info(
                "forms.I001",
                f"Endpoint {item.endpoint!r} is exempt from CSRF checks ({item.source}"
                + (", some requests only" if item.when is not None else "")
                + f"): {item.reason}",
            )
        )
    return messages


def _unknown_exemptions(app: Flask) -> list[CheckMessage]:
    """``forms.W004`` for each name a plugin's ``erlen_forms_csrf_exempt`` gave that is no endpoint or blueprint.

    Such a name exempts nothing: the plugin's views stay protected, and its
    token-authenticated API refuses every request with a 400 that its author
    may take for a bug of their own.

    :param app: the app being checked, with every route registered.
    """
    from erlen.checks import warning

    known = sorted({*app.view_functions, *app.blueprints})
    found = []
    for name, (plugin_name, _reason) in sorted(state_of(app).hook_exemptions.items()):
        if name in app.view_functions or name in app.blueprints:
            continue
        close = difflib.get_close_matches(name, known, n=1)
        found.append(
            warning(
                "forms.W004",
                f"Plugin {plugin_name!r} exempts {name!r} from CSRF checks through erlen_forms_csrf_exempt, but the "
                "app has no endpoint or blueprint of that name: nothing is exempt, and requests to the views meant "
                "still need a CSRF token.",
                (f"Did you mean {close[0]!r}? " if close else "")
                + "Return an endpoint name (`erlen routes` lists them) or a blueprint name from the hook.",
            )
        )
    return found


@erlen.hookimpl
def erlen_cli_commands(cli: AppGroup) -> Iterable[click.Command]:
    @click.group("forms", help="Forms and CSRF protection.")
    def forms() -> None:
        pass

    @forms.command("exempt", help="List the endpoints exempt from CSRF checks, with the reasons.")
    @with_appcontext
    def exempt() -> None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        items = csrf.exemptions(app)
        if not items:
            click.echo("No endpoint is exempt from CSRF checks.")
        for item in items:
            some = ", some requests only" if item.when is not None else ""
            click.echo(f"{item.endpoint}  [{item.source}{some}]  {item.reason}")

    return [forms]
