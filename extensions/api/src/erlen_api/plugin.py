"""The ``api`` plugin: typed REST APIs, problem details, the OpenAPI document and its docs."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType

import click
from flask import Blueprint, Flask

import erlen

from . import conditional, cors, hookspecs, ratelimits
from .docs import docs_blueprint
from .errorhandling import install_routing_handler
from .state import EXTENSION_KEY, ApiState

if t.TYPE_CHECKING:
    from flask.cli import AppGroup
    from werkzeug.wrappers import Response

    from erlen.checks import CheckMessage

PLUGIN = erlen.Plugin(
    name="api",
    integrates_with=["db", "forms", "auth"],
    description="Typed REST APIs: validated endpoints, problem details, OpenAPI 3.1 and interactive docs",
    title="API",
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
        erlen.Setting(
            "MAX_BODY_SIZE",
            int | None,
            default=1024 * 1024,
            validate=erlen.at_least(1),
            help="The largest JSON body in bytes an endpoint reads (1 MiB); a larger one is answered 413 before "
            "it is read. A lower MAX_CONTENT_LENGTH of the app still applies; None leaves that one alone, and "
            "without it (erlen-forms sets it) bodies are unbounded.",
        ),
        erlen.Setting(
            "MAX_FILTER_VALUES",
            int,
            default=100,
            validate=erlen.at_least(1),
            help="The most values one repeated query parameter (a list filter such as ?status=a&status=b) may "
            "carry; a request with more is answered 422 before anything reaches the database.",
        ),
        erlen.Setting(
            "REQUIRE_IF_MATCH",
            bool,
            default=False,
            help="Updates and deletes that check If-Match (erlen_api.check_if_match) answer 428 to a request "
            "without it, instead of letting it overwrite unseen changes.",
        ),
        erlen.Setting(
            "CORS_ORIGINS",
            list[str],
            default=[],
            validate=cors.validate_origins,
            help="The origins whose scripts may call the APIs (CORS), such as https://app.example.com; '*' for "
            "any (not with API_CORS_CREDENTIALS). Empty: no cross-origin access.",
        ),
        erlen.Setting(
            "CORS_CREDENTIALS",
            bool,
            default=False,
            help="Let the allowed origins send cookies (Access-Control-Allow-Credentials); state-changing requests "
            "with the session cookie still need the CSRF header.",
        ),
        erlen.Setting(
            "CORS_MAX_AGE",
            int | None,
            default=600,
            validate=erlen.at_least(0),
            help="Seconds a browser may keep a preflight's answer (Access-Control-Max-Age).",
        ),
        erlen.Setting(
            "CORS_EXPOSE_HEADERS",
            list[str],
            default=list(cors.DEFAULT_EXPOSE_HEADERS),
            help="The response headers the allowed origins' scripts may read (Access-Control-Expose-Headers).",
        ),
        erlen.Setting(
            "CORS_ALLOW_HEADERS",
            list[str],
            default=list(cors.DEFAULT_ALLOW_HEADERS),
            help="The request headers the allowed origins may send (the CSRF header is added).",
        ),
        erlen.Setting(
            "RATELIMIT_ADDRESS",
            str | None,
            default=None,
            validate=ratelimits.validate_setting,
            help="Requests a client address may make to the API (those not authenticated with an access token), "
            "such as '100/minute' or '10/second;1000/hour'. None: no limit.",
        ),
        erlen.Setting(
            "RATELIMIT_TOKEN",
            str | None,
            default=None,
            validate=ratelimits.validate_setting,
            help="Requests one access token may make to the API, such as '1000/hour'. None: no limit.",
        ),
        erlen.Setting(
            "RATELIMIT_STRATEGY",
            t.Literal["fixed-window", "moving-window", "sliding-window"],
            default="fixed-window",
            help="How requests are counted (the limits library's strategies): fixed windows (cheapest), a moving "
            "window (exact, a list per client) or a sliding window counter (an approximation of it).",
        ),
        erlen.Setting(
            "RATELIMIT_REDIS_URL",
            str | None,
            default=None,
            secret=True,
            help="A redis:// URL to count API requests in, shared by every process and host; by default each "
            "process counts in its own memory. While Redis cannot be reached, each process counts in its own "
            "memory and logs it once.",
        ),
        erlen.Setting(
            "RATELIMIT_KEY_PREFIX",
            str,
            default="erlen-api:ratelimit",
            help="Put before the rate limits' keys in Redis (apps sharing a Redis keep apart with their own).",
        ),
        erlen.Setting(
            "RATELIMIT_REDIS_CONNECT_TIMEOUT",
            float,
            default=0.25,
            validate=erlen.greater_than(0),
            help="Seconds to wait for a connection to the rate limits' Redis before counting in memory.",
        ),
        erlen.Setting(
            "RATELIMIT_REDIS_READ_TIMEOUT",
            float,
            default=0.25,
            validate=erlen.greater_than(0),
            help="Seconds to wait for the rate limits' Redis to answer before counting in memory: what a hung "
            "Redis adds to a request at most.",
        ),
        erlen.Setting(
            "RATELIMIT_REDIS_RETRY_INTERVAL",
            float,
            default=5.0,
            validate=erlen.at_least(0),
            help="Seconds between tries of the rate limits' Redis while it cannot be reached (0: on every request).",
        ),
    ]


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    state = ApiState()
    app.extensions[EXTENSION_KEY] = state
    state.add_prefix(app.config["API_URL_PREFIX"])
    install_routing_handler(app)
    state.ratelimiter = ratelimits.make_limiter(app)
    app.after_request(_after_api_request(state))
    cors.install(app)


def _after_api_request(state: ApiState) -> Callable[[Response], Response]:
    """The ``after_request`` function of the plugin: the rate limit headers, then the ``ETag`` (or the 304).

    One function rather than one each: Flask's dispatch of an ``after_request`` function costs about as much as
    the function when the response is not an API's.

    :param state: the plugin's state on the app.
    """

    def after_api_request(response: Response) -> Response:
        # Until a request is counted (without a limiter, or limits, none is) no usage is in g to report: no need
        # to look for it there through the proxy on every response.
        limiter = state.ratelimiter
        if limiter is not None and limiter.counted:
            ratelimits.add_headers(response)
        return conditional.tag_response_of(response, state)

    return after_api_request


@erlen.hookimpl
def erlen_checks(app: Flask, deploy: bool) -> Iterable[CheckMessage]:
    # Imported when called: only `erlen check` runs the checks, never a worker.
    from erlen.checks import info, warning

    from .state import state_of

    found: list[CheckMessage] = []
    limiter = state_of(app).ratelimiter
    if limiter is not None and limiter.redis is not None:
        unreachable = limiter.ping()
        if unreachable is not None:
            found.append(
                warning(
                    "api.W001",
                    f"The rate limits' Redis at {limiter.location} cannot be reached ({unreachable}): until it can, "
                    "each process counts API requests in its own memory, so the limits apply per process.",
                    "Start Redis or correct API_RATELIMIT_REDIS_URL; a slow network may need a longer "
                    "API_RATELIMIT_REDIS_CONNECT_TIMEOUT or API_RATELIMIT_REDIS_READ_TIMEOUT.",
                )
            )
    if deploy and limiter is not None and limiter.limits_by_default and limiter.redis is None:
        found.append(
            info(
                "api.I001",
                "API rate limits are counted in each process's memory: several workers or hosts count apart.",
                "Set API_RATELIMIT_REDIS_URL to share the counts between them.",
            )
        )
    return found


@erlen.hookimpl
def erlen_blueprints(app: Flask) -> Iterable[Blueprint | tuple[Blueprint, Mapping[str, t.Any]]]:
    from .resources import resource_blueprints

    return [(docs_blueprint(app), {"url_prefix": app.config["API_URL_PREFIX"]}), *resource_blueprints(app)]


#: ``erlen api``'s help: here, so that ``erlen --help`` lists it without importing :mod:`erlen_api.cli`.
API_HELP = "Typed REST APIs: the OpenAPI document."


@erlen.hookimpl
def erlen_cli_commands(cli: AppGroup) -> Iterable[click.Command]:
    # Imported when run (LazyCommand): every worker creates the app, none runs it.
    return [erlen.LazyCommand("api", "erlen_api.cli:api_group", help=API_HELP)]


# erlen-ops' hooks, optional (erlen-api does not depend on erlen-ops): their module is imported when erlen-ops
# calls, never by the workers of an app without it.
@erlen.hookimpl(optionalhook=True)
def erlen_health_checks(app: Flask) -> Mapping[str, Callable[[], None]]:
    from .health import readiness_checks

    return readiness_checks(app)
