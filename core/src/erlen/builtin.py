"""Erlen's own plugin, ``erlen``: core settings, deployment checks and CLI commands.

It is always loaded first and uses the same hooks as every other plugin.
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Iterable, Mapping
from pathlib import Path

from flask import Flask

from .hosts import validate_trusted_hosts
from .markers import hookimpl
from .plugins.declaration import Plugin
from .plugins.discovery import LoadedPlugin
from .settings import Setting

if t.TYPE_CHECKING:
    import click
    from flask.cli import AppGroup

    from .checks import CheckMessage

PLUGIN = Plugin(name="erlen", description="Erlen's core", settings_prefix="")

PLUGINS_SETTING = Setting(
    "PLUGINS",
    list[str],
    default=[],
    help="The enabled plugins, in order: entry-point names (such as db) or dotted import paths of local plugins.",
)

#: The headers ``erlen check --deploy`` recommends for ``SECURITY_HEADERS``: no MIME sniffing of uploads and JSON
#: into HTML, no framing by other sites (clickjacking), and no full URLs (with their query strings) in the
#: ``Referer`` header sent to other sites. The pages of erlen-auth and erlen-admin send their own.
RECOMMENDED_SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}

#: The characters an HTTP header name may have (RFC 9110 ``token``).
_HEADER_NAME_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

#: Keys too short, too repetitive or too well known to protect sessions in production.
_MIN_SECRET_LENGTH = 32
_PLACEHOLDER_SECRETS = frozenset({"dev", "test", "key"})
#: Words that mark a key someone typed rather than generated; too long to occur by chance in a random key.
_PLACEHOLDER_WORDS = ("change", "example", "insecure", "develop", "placeholder", "production", "password", "secret")


def loaded() -> LoadedPlugin:
    """This module as a :class:`~erlen.plugins.discovery.LoadedPlugin`."""
    import sys

    from . import __version__

    return LoadedPlugin(
        name="erlen",
        obj=sys.modules[__name__],
        declaration=PLUGIN,
        origin="Erlen's core",
        distribution="erlen",
        distribution_version=__version__,
        builtin=True,
        spec="erlen",
    )


@hookimpl
def erlen_settings() -> Iterable[Setting]:
    return [
        PLUGINS_SETTING,
        Setting(
            "SECRET_KEY",
            t.Union[str, bytes, None],  # noqa: UP007 - a runtime value, not an annotation
            default=None,
            secret=True,
            help="Signs sessions and tokens. In production use a long random value, such as the output of: "
            'python -c "import secrets; print(secrets.token_urlsafe(48))"',
        ),
        Setting(
            "SECURITY_HEADERS",
            dict[str, str],
            default={},
            validate=_valid_headers,
            help="Headers added to every response that does not set them itself (a header with an empty value is "
            "not sent), such as "
            + json.dumps(RECOMMENDED_SECURITY_HEADERS)
            + ". None by default: plain Flask sends none, and each costs every response a little; "
            "erlen check --deploy recommends them.",
        ),
        Setting(
            "TRUSTED_HOSTS",
            list[str] | None,
            default=None,
            validate=validate_trusted_hosts,
            help='The host names the app answers to, as Flask\'s TRUSTED_HOSTS, such as ["notes.example.com"]; '
            "requests for other hosts get a 400. An entry allows the default port of the request's scheme (80 for "
            'http, 443 for https) or the port it names ("notes.example.com:8443"); a leading dot '
            '(".example.com") allows subdomains. Unset, every host is answered and links in mail can be '
            "pointed at another site.",
        ),
        Setting(
            "TRUSTED_PROXY_HOPS",
            int,
            default=0,
            validate=_not_negative,
            help="How many reverse proxies (nginx, a load balancer) are in front of the app. Their X-Forwarded-For, "
            "-Proto, -Host, -Port and -Prefix headers are trusted for that many hops (Werkzeug's ProxyFix), so the "
            "client's address, https and the public host are seen. 0 (the default) ignores the headers, as "
            "an app served directly must: any client can send them.",
        ),
        Setting(
            "LOG_FORMAT",
            t.Literal["text", "json"],
            default="text",
            help='How the app logs: "text" (the default) leaves logging as Flask and Python set it up; "json" '
            "writes one JSON object a line on standard error (time, level, logger, message, request_id, user_id, "
            "plugin, event and extra fields), secrets redacted, from the web workers, the erlen commands and the "
            "mail worker alike, and turns request ids on.",
        ),
        Setting(
            "LOG_LEVEL",
            t.Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
            default="INFO",
            help='The lowest level logged with LOG_FORMAT = "json" (the root logger\'s level).',
        ),
        Setting(
            "REQUEST_IDS",
            bool,
            default=False,
            help="Give each request an id, taken from the REQUEST_ID_HEADER header when it is a plausible one "
            "(1 to 128 letters, digits and -_.:=+/@) or made, answered in the same header and readable with "
            'erlen.request_id(). Always on with LOG_FORMAT = "json", whose lines carry it.',
        ),
        Setting(
            "REQUEST_ID_HEADER",
            str,
            default="X-Request-ID",
            validate=_valid_header_name,
            help="The request and response header of request ids (see REQUEST_IDS), such as X-Amzn-Trace-Id.",
        ),
        Setting(
            "SITE_NAME",
            str,
            default="",
            help="The site's name, shown by the layout (erlen/base.html) in the header and after each page's title.",
        ),
        Setting(
            "TEMPLATE_CACHE",
            bool,
            default=True,
            help="Keep the compiled code of templates in TEMPLATE_CACHE_DIR, so that each worker loads it instead "
            "of compiling every template again (quicker first pages, about 1 MiB less memory a worker). A cached "
            "template is used only while its source, Python's and Jinja's versions and the environment's options "
            "are those it was compiled with.",
        ),
        Setting(
            "TEMPLATE_CACHE_DIR",
            str | None,
            default=None,
            help="The folder of TEMPLATE_CACHE, made when missing; it must be the app's user's own and not "
            "writable by others (the app runs the code it holds), else templates are compiled in each process "
            "and a warning says why. Unset: a folder of the user's own in the system's temporary folder.",
        ),
    ]


def _not_negative(value: int) -> None:
    if value < 0:
        raise ValueError("must be 0 (no proxy) or the number of reverse proxies in front of the app")


def _valid_header_name(name: str) -> None:
    if not name or not set(name) <= _HEADER_NAME_CHARS:
        raise ValueError("must be a valid HTTP header name, such as X-Request-ID")


def _valid_headers(headers: dict[str, str]) -> None:
    # Checked at startup: a bad name or a line break in a value would otherwise fail every response with a 500.
    for name, value in headers.items():
        if not name or not set(name) <= _HEADER_NAME_CHARS:
            raise ValueError(f"must name valid HTTP headers, and {name!r} is not one")
        if any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in value):
            raise ValueError(f"must not have line breaks or control characters in a value (the value of {name} has)")


@hookimpl
def erlen_checks(app: Flask, deploy: bool) -> Iterable[CheckMessage]:
    # Imported when called: only `erlen check` runs the checks, never a worker.
    from .checks import error, warning

    problems = _unknown_plugin_settings(app) + _shared_titles(app)
    if not deploy:
        return problems
    if not any(app.config.get("SECURITY_HEADERS") or {}):
        problems.append(
            warning(
                "erlen.W003",
                "SECURITY_HEADERS is empty: responses carry no nosniff, framing or referrer policy header "
                "(the pages of erlen-auth and erlen-admin send their own).",
                f"Set ERLEN_SECURITY_HEADERS='{json.dumps(RECOMMENDED_SECURITY_HEADERS)}'.",
            )
        )
    secret = app.config.get("SECRET_KEY")
    hint = 'Set ERLEN_SECRET_KEY to the output of: python -c "import secrets; print(secrets.token_urlsafe(48))"'
    if not secret:
        problems.append(error("erlen.E001", "SECRET_KEY is not set, so sessions cannot be signed.", hint))
    elif _is_weak(secret):
        problems.append(
            error(
                "erlen.E002",
                f"SECRET_KEY is weak: use at least {_MIN_SECRET_LENGTH} random characters, "
                "not a placeholder or a repeated pattern.",
                hint,
            )
        )
    from .app import plugins_of

    if app.debug or plugins_of(app).loaded_config.get("DEBUG"):
        problems.append(
            error(
                "erlen.E003",
                "Debug mode is on: the debugger lets anyone who reaches an error page run code.",
                "Unset DEBUG (ERLEN_DEBUG) and FLASK_DEBUG in production.",
            )
        )
    if app.testing:
        problems.append(warning("erlen.W001", "TESTING is on in production.", "Unset TESTING."))
    problems.extend(_proxy_checks(app))
    return problems


def _proxy_checks(app: Flask) -> list[CheckMessage]:
    """What the app knows about proxies: forwarded headers seen while no proxy is trusted, or a reminder.

    Whether a proxy is in front of the app shows only in the requests that
    arrive; ``erlen check`` runs in a process of its own, which sees none. So
    with no forwarded request seen in this process the check says what the
    setting means (an info), and a running app logs a warning at its first
    forwarded request, and reports ``erlen.W004`` when checked in-process.
    """
    from .checks import info, warning
    from .proxies import proxy_state

    state = proxy_state(app)
    if state is None or state.hops:
        return []
    hint = (
        "Set ERLEN_TRUSTED_PROXY_HOPS to the number of reverse proxies in front of the app (1 for one nginx); "
        "leave it 0 when clients reach the app directly."
    )
    seen = state.forwarded
    if seen is not None:
        return [
            warning(
                "erlen.W004",
                f"Requests arrive with {seen.header} (the first at {seen.at:%Y-%m-%d %H:%M:%S} UTC, from "
                f"{seen.remote_addr or 'an unknown address'}) but TRUSTED_PROXY_HOPS is 0, so the X-Forwarded-* "
                "headers are ignored: behind a proxy, links say http:// and every client has the proxy's address.",
                hint + " If no proxy is in front of the app, a client sent the header itself.",
            )
        ]
    return [
        info(
            "erlen.I001",
            "TRUSTED_PROXY_HOPS is 0, so X-Forwarded-* headers are ignored: right when clients reach the app "
            "directly, wrong behind a reverse proxy (links say http://, every client has the proxy's address). "
            "A running app logs a warning when one of its first requests carries them.",
            hint,
        )
    ]


def _unknown_plugin_settings(app: Flask) -> list[CheckMessage]:
    """Configured keys that no enabled plugin reads (see :mod:`erlen.unknown_settings`)."""
    from .app import plugins_of
    from .checks import warning
    from .unknown_settings import unknown_settings

    return [warning("erlen.W002", unknown.message, unknown.hint) for unknown in unknown_settings(plugins_of(app))]


def _shared_titles(app: Flask) -> list[CheckMessage]:
    """Enabled plugins whose titles are the same but for case, which people would take for one plugin: the admin
    heads a group of each plugin's links, and a role's permissions, with its title."""
    from .app import plugins_of
    from .checks import warning

    by_title: dict[str, list[LoadedPlugin]] = {}
    for plugin in plugins_of(app):
        by_title.setdefault(plugin.title.casefold(), []).append(plugin)
    problems = []
    for alike in by_title.values():
        if len(alike) < 2:
            continue
        names = [repr(plugin.name) for plugin in alike]
        titles = list(dict.fromkeys(plugin.title for plugin in alike))
        same = f"the same title, {titles[0]!r}"
        if len(titles) > 1:
            same = f"the same title but for case ({', '.join(map(repr, titles))})"
        which = "one of them" if len(alike) == 2 else "all of them but one"
        problems.append(
            warning(
                "erlen.W005",
                f"The plugins {', '.join(names[:-1])} and {names[-1]} have {same}: the admin's sidebar and "
                "dashboard, a role's permissions and erlen plugins show two headings alike.",
                f"Set title= on {which}, in its erlen.Plugin(...) declaration, to a title that tells them apart "
                f"(such as erlen.Plugin(name={alike[-1].name!r}, title=...)).",
            )
        )
    return problems


def _is_weak(secret: str | bytes) -> bool:
    text = secret.decode("latin-1") if isinstance(secret, bytes) else secret
    lowered = text.strip().lower()
    return (
        len(text) < _MIN_SECRET_LENGTH
        or len(set(text)) < 10
        or lowered in _PLACEHOLDER_SECRETS
        or any(word in lowered for word in _PLACEHOLDER_WORDS)
    )


#: ``erlen check``'s help: here, not in :mod:`erlen.cli.check`, so that ``erlen --help`` lists it without importing it.
CHECK_HELP = "Run the system checks of every enabled plugin; exit 1 on errors."
#: ``erlen plugins``'s help (see :data:`CHECK_HELP`).
PLUGINS_HELP = (
    "List enabled and installed plugins with title, version, distribution, requirements and the hooks they implement."
)


@hookimpl
def erlen_cli_commands(cli: AppGroup) -> Iterable[click.Command]:
    from .lazy_commands import LazyCommand

    # Imported when run: every worker creates the app, none runs these.
    return [
        LazyCommand("plugins", "erlen.cli.plugins:plugins_command", help=PLUGINS_HELP),
        LazyCommand("check", "erlen.cli.check:check_command", help=CHECK_HELP),
    ]


@hookimpl
def erlen_init_app(app: Flask) -> None:
    from .app import plugins_of
    from .errorpages import register_error_pages
    from .logs import configure_logging

    configure_logging(app, plugins_of(app))  # first, so that the plugins' start-up logs are formatted too
    register_error_pages(app)


@hookimpl
def erlen_template_folders() -> Iterable[str]:
    # The layout (erlen/base.html, erlen/layout.html) and the error page (erlen/error.html).
    return [str(Path(__file__).parent / "templates")]


@hookimpl
def erlen_static_folder() -> str:
    # erlen.css and favicon.svg, at /static/plugins/erlen/.
    return str(Path(__file__).parent / "static")


@hookimpl
def erlen_template_globals() -> Mapping[str, t.Any]:
    return {"has_endpoint": has_endpoint}


def has_endpoint(name: str) -> bool:
    """Whether the current app has a view called ``name``, for templates: ``{% if has_endpoint("auth.register") %}``.

    :param name: an endpoint, such as ``"admin.index"``.
    """
    from flask import current_app

    return name in current_app.view_functions
