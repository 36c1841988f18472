"""The ``ops`` plugin: ``/healthz``, ``/readyz``, Prometheus metrics and OpenTelemetry tracing."""

from __future__ import annotations

import importlib.util
import ipaddress
import math
import os
import threading
import typing as t
from collections.abc import Iterable
from types import ModuleType
from urllib.parse import urlsplit

from flask import Flask

import erlen

from . import hookspecs
from .health import ReadinessChecker, collect_checks
from .middleware import OpsMiddleware
from .names import MULTIPROCESS_VARIABLE, multiprocess_dir
from .state import EXTENSION_KEY, OpsSettings, OpsState, state_of

if t.TYPE_CHECKING:
    from .metrics import AppMetrics

PLUGIN = erlen.Plugin(
    name="ops",
    integrates_with=["db", "migrate", "mail", "auth", "api"],
    description="Operations: health and readiness endpoints, Prometheus metrics, OpenTelemetry tracing",
    title="Operations",
)


def _path(value: object) -> None:
    if not isinstance(value, str) or not value.startswith("/") or len(value) < 2:
        raise ValueError("must be a path starting with '/', such as '/healthz'")


def _seconds(*, zero: bool, most: float | None = None) -> t.Callable[[object], None]:
    """A ``validate`` for a number of seconds: finite (NaN and infinity refused), positive or, with ``zero``, 0.

    :param zero: whether 0 is allowed.
    :param most: the largest value allowed, if any.
    """

    def check(value: object) -> None:
        if not isinstance(value, int | float) or not math.isfinite(value) or not (value >= 0 if zero else value > 0):
            raise ValueError("must be a number of seconds, finite and " + ("at least 0" if zero else "greater than 0"))
        if most is not None and value > most:
            raise ValueError(f"must be a number of seconds, finite and at most {most:.0f}")

    return check


def _http_url(value: object) -> None:
    if value is None or value == "":
        return  # the exporter's own default, as tracing.start reads an empty value
    wanted = "must be an http:// or https:// URL with a host, such as 'http://127.0.0.1:4318/v1/traces'"
    try:
        parts = urlsplit(str(value))
        parts.port  # noqa: B018  (read for its check: a port that is not a number or beyond 65535 raises)
    except ValueError as exc:  # urlsplit's reason ("Invalid IPv6 URL"), which alone would not name the fix
        raise ValueError(f"{wanted} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The exporter would take it, and fail at each export in the background, far from the setting.
        raise ValueError(wanted)


#: The fewest characters of ``OPS_METRICS_TOKEN``: ``secrets.token_urlsafe(32)`` makes 43.
TOKEN_MIN_LENGTH = 32

_MAKE_TOKEN = "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"


def _token(value: object) -> None:
    """Refuse an ``OPS_METRICS_TOKEN`` no header can carry, or short enough to guess (never naming its value).

    :param value: the setting's value; ``None`` or ``''`` (no token) is allowed.
    :raises ValueError: it holds a space or a character outside printable ASCII, or is shorter than
        :data:`TOKEN_MIN_LENGTH`.
    """
    if value is None or value == "":
        return
    text = str(value)
    if not (text.isascii() and text.isprintable()) or any(character.isspace() for character in text):
        # It travels in a header, compared byte for byte with what follows "Bearer ": a space (a trailing
        # newline read from a secret's file) or a character outside ASCII would never match.
        raise ValueError(f"must be printable ASCII without spaces, such as one from {_MAKE_TOKEN}")
    if len(text) < TOKEN_MIN_LENGTH:
        # It opens /metrics to any address: a short one ('abc', a word) is guessed.
        raise ValueError(
            f"is {len(text)} characters long, too short to keep /metrics private: it must be at least "
            f"{TOKEN_MIN_LENGTH} characters, such as one from {_MAKE_TOKEN}"
        )


def _ratio(value: object) -> None:
    if not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError("must be between 0 and 1")


def _networks(value: object) -> None:
    for network in t.cast(list[str], value):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(
                f"holds {network!r}, which is not an address or network such as '10.0.0.0/8' or '::1'"
            ) from None


@erlen.hookimpl
def erlen_hookspecs() -> Iterable[ModuleType]:
    return [hookspecs]


@erlen.hookimpl
def erlen_settings() -> Iterable[erlen.Setting]:
    return [
        erlen.Setting(
            "HEALTH_PATH", str, default="/healthz", validate=_path, help="The path of the liveness endpoint."
        ),
        erlen.Setting("READY_PATH", str, default="/readyz", validate=_path, help="The path of the readiness endpoint."),
        erlen.Setting("METRICS_PATH", str, default="/metrics", validate=_path, help="The path of the metrics."),
        erlen.Setting(
            "READY_TIMEOUT",
            float,
            default=2.0,
            # A thread is waited for that long: beyond the platform's limit, each /readyz would raise.
            validate=_seconds(zero=False, most=threading.TIMEOUT_MAX),
            help="Seconds the readiness checks may take (they run in parallel); a check still running counts as "
            "failed.",
        ),
        erlen.Setting(
            "READY_CACHE",
            float,
            default=1.0,
            validate=_seconds(zero=True),
            help="Seconds a readiness answer is reused by the process, so probes cannot overload the database.",
        ),
        erlen.Setting(
            "METRICS",
            bool,
            default=False,
            help="Collect Prometheus metrics and serve them at OPS_METRICS_PATH. Under gunicorn, set "
            "PROMETHEUS_MULTIPROC_DIR (see the operations guide).",
        ),
        erlen.Setting(
            "METRICS_TIMEOUT",
            float,
            default=2.0,
            # A thread is waited for that long: beyond the platform's limit, each scrape would raise.
            validate=_seconds(zero=False, most=threading.TIMEOUT_MAX),
            help="Seconds a scrape waits for the gauges plugins read at scrape time (they run in parallel); a gauge "
            "still being read is left out of the answer, and not read again until that read ends.",
        ),
        erlen.Setting(
            "METRICS_ALLOW",
            list[str],
            default=["127.0.0.1/32", "::1/128"],
            validate=_networks,
            help="Addresses or networks allowed to read the metrics without a token (the client's address after "
            "TRUSTED_PROXY_HOPS).",
        ),
        erlen.Setting(
            "METRICS_TOKEN",
            str | None,
            default=None,
            secret=True,
            validate=_token,
            help="A token that lets any address read the metrics, sent as 'Authorization: Bearer TOKEN': at least "
            "32 characters of printable ASCII without spaces.",
        ),
        erlen.Setting(
            "TRACING",
            bool,
            default=False,
            help="Trace requests, SQL, outgoing mail and plugin hooks with OpenTelemetry (erlen-ops[tracing]).",
        ),
        erlen.Setting(
            "TRACING_EXPORTER",
            t.Literal["otlp", "console", "none"],
            default="otlp",
            help="Where spans go: otlp (OTLP over HTTP), console (standard output) or none.",
        ),
        erlen.Setting(
            "TRACING_ENDPOINT",
            str | None,
            default=None,
            validate=_http_url,
            help="The OTLP traces URL, such as http://127.0.0.1:4318/v1/traces; by default the exporter's "
            "(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or http://localhost:4318/v1/traces).",
        ),
        erlen.Setting(
            "TRACING_SERVICE_NAME",
            str | None,
            default=None,
            help="The service.name of the spans; the app's name by default.",
        ),
        erlen.Setting(
            "TRACING_SAMPLE_RATIO",
            float,
            default=1.0,
            validate=_ratio,
            help="The share of new traces recorded; a trace begun upstream follows the caller's decision.",
        ),
    ]


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    settings = OpsSettings.from_config(app.config)
    _check_paths(settings)
    state = OpsState(app, settings)
    app.extensions[EXTENSION_KEY] = state
    if settings.metrics:
        _check_multiprocess_dir()
    if settings.tracing:
        from .tracing import RequestHooks  # OpenTelemetry is imported by the set-up only

        # Now: Flask refuses request hooks once the app has served a request, and the set-up may come later.
        state.request_hooks = RequestHooks()
        state.request_hooks.register(app)
    if settings.metrics or settings.tracing:
        # Set up by state.start: at once in an app made to serve (erlen_app_ready), but in one the erlen command
        # made only when it first serves a request or a command uses them, so that `erlen --app APP --help` and
        # commands serving nothing import neither prometheus-client nor OpenTelemetry.
        state.set_up = _start_metrics_and_tracing
        erlen.defer_setup(app, _check_installed)
    state.middleware = OpsMiddleware(app.wsgi_app, state)
    app.wsgi_app = state.middleware  # type: ignore[method-assign]


def _check_installed(app: Flask) -> None:
    """Refuse, at startup, metrics or tracing whose packages are not installed, without importing them (a
    deferred step: an app the erlen command made checks before its command runs, ``erlen run`` included).

    :param app: the app, with metrics or tracing on.
    :raises erlen.SettingError: a package is missing.
    """
    settings = state_of(app).settings
    if settings.tracing:
        from .tracing import check_installed

        check_installed()
    if settings.metrics and importlib.util.find_spec("prometheus_client") is None:
        raise erlen.SettingError(
            "OPS_METRICS is on but prometheus-client is not installed: install erlen-ops, or turn OPS_METRICS off.",
            key="OPS_METRICS",
            plugin="ops",
        )


def _start_metrics_and_tracing(state: OpsState) -> None:
    """Set up the app's metrics and tracing (:meth:`OpsState.start`): its tracer provider and the tracing
    of its requests, its metrics and every plugin's (``erlen_ops_metrics``), the timing and tracing of the
    plugins' hook calls, and the counting and tracing of its SQL.

    Step by step, each step marked done in ``state`` once it succeeds: a step that fails raises, the steps before
    it stay done, and the next call (the next request, in an app the ``erlen`` command made) goes on from it.
    None is done twice: twice, the engine's statements would be counted and traced twice, the hooks timed twice,
    a plugin's metrics registered twice (which prometheus-client refuses). Undoing the steps done instead (all or
    nothing) would need taking OpenTelemetry's request hooks off the app and unwrapping every plugin's hook
    implementations, which neither offers.

    :param state: the app's erlen-ops state, with metrics or tracing on.
    :raises erlen.SettingError: the tracing or the metrics could not be made, naming the setting.
    :raises erlen.PluginHookError: a plugin's ``erlen_ops_metrics`` raised, naming the plugin.
    """
    app, settings = state.app, state.settings
    registry = erlen.plugins_of(app)
    middleware = state.middleware
    assert middleware is not None
    if settings.tracing and state.tracing_made is None:
        from . import tracing

        try:
            made = tracing.start(app)
            assert state.request_hooks is not None  # registered with OPS_TRACING on
            inner = tracing.trace_requests(app, made, middleware.wsgi_app, state.request_hooks)
        except erlen.ErlenError:
            raise
        except Exception as exc:
            raise erlen.SettingError(
                f"OPS_TRACING is on but the tracing could not be set up ({_described(exc)}): check "
                f"OPS_TRACING_EXPORTER ({_setting_value(app, 'OPS_TRACING_EXPORTER')}), OPS_TRACING_ENDPOINT and "
                "the OTEL_* environment variables, or turn OPS_TRACING off.",
                key="OPS_TRACING",
                plugin="ops",
            ) from exc
        state.provide(tracing=made)
        middleware.serve_with(None, inner)
    if settings.metrics and state.metrics_made is None:
        from prometheus_client import CollectorRegistry

        from .metrics import AppMetrics, MetricsFactory

        try:
            # A registry of its own each try: a try that failed halfway leaves nothing registered twice.
            factory = MetricsFactory(
                CollectorRegistry(auto_describe=True), app, scrape_timeout=settings.metrics_timeout
            )
            metrics = AppMetrics(factory)
        except Exception as exc:
            raise erlen.SettingError(
                f"OPS_METRICS is on but the metrics could not be made ({_described(exc)}): check that the folder "
                f"of {MULTIPROCESS_VARIABLE}, if set, exists and the app's user can write in it, or turn "
                "OPS_METRICS off.",
                key="OPS_METRICS",
                plugin="ops",
            ) from exc
        state.provide(metrics=metrics)
        # Counted from now on, whatever the plugins' metrics below do.
        middleware.serve_with(metrics)
    if not state.hooks_wrapped:
        # Before the plugins' erlen_ops_metrics run, so that those calls are timed too.
        registry.wrap_implementations(_hook_wrapper(state))
        state.hooks_wrapped = True
    if "db" in registry:
        _instrument_database(state)
    if state.metrics_made is not None:
        _plugins_metrics(state, state.metrics_made)


def _setting_value(app: Flask, key: str) -> str:
    """A setting's value for messages, quoted.

    :param app: the app.
    :param key: the setting's key.
    """
    return repr(app.config.get(key))


def _described(exc: BaseException) -> str:
    """An error for messages: its class and its message's first line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _plugins_metrics(state: OpsState, metrics: AppMetrics) -> None:
    """Call each plugin's ``erlen_ops_metrics`` that has not run yet, in load order, one at a time.

    A plugin's call that raises has what it made taken back out of the registry, so that its call at the next
    set-up does not meet its own metrics; the plugins after it wait for that set-up.

    :param state: the app's erlen-ops state.
    :param metrics: the app's metrics.
    :raises erlen.PluginHookError: naming the plugin whose call raised.
    """
    factory = metrics.factory
    arguments: dict[str, object] = {"app": state.app, "metrics": factory}
    for implementation in erlen.plugins_of(state.app).implementations("erlen_ops_metrics"):
        plugin = implementation.plugin_name
        if plugin in state.plugins_measured:
            continue
        checkpoint = factory.checkpoint()
        try:
            implementation.function(*(arguments[name] for name in implementation.argnames))
        except Exception as exc:
            factory.roll_back(checkpoint)
            raise erlen.PluginHookError(
                f"Plugin {plugin!r} failed in erlen_ops_metrics ({_described(exc)}): its metrics are left out "
                "until it succeeds. Fix the plugin, or turn OPS_METRICS off.",
                plugin=plugin,
                original=exc,
            ) from exc
        # Each gauge read at scrape time is credited to the plugin that added it, for the log lines about it.
        factory.credit_new_gauges(plugin)
        state.plugins_measured.add(plugin)


def _instrument_database(state: OpsState) -> None:
    """Trace and count the SQL statements and pooled connections of the app's engine, each once.

    :param state: the app's erlen-ops state, with the ``db`` plugin and metrics or tracing made.
    """
    import erlen_db

    engine = erlen_db.database_of(state.app).engine
    if state.tracing_made is not None and not state.engine_traced:
        from . import tracing

        tracing.instrument_engine(state.tracing_made, engine)
        state.engine_traced = True
    if state.metrics_made is not None and not state.engine_counted:
        state.metrics_made.instrument_engine(engine)
        state.engine_counted = True
        # Counted from the first request: the set-up runs before any.
        state.counts_queries = True


@erlen.hookimpl
def erlen_app_ready(app: Flask) -> None:
    # Deferred: the plugins' check hooks reach their set-up (erlen-db's imports SQLAlchemy), which
    # `erlen --app APP --help` skips. Until the step runs /readyz answers 503 ("still starting").
    erlen.defer_setup(app, _prepare_checks)
    if not erlen.setup_deferred(app):
        # An app made to serve (a worker, a test, a script): metrics and tracing now, their errors at startup.
        state_of(app).start()


def _prepare_checks(app: Flask) -> None:
    """Collect every plugin's readiness checks (a deferred step).

    :param app: the app, with the ``ops`` plugin.
    """
    state = state_of(app)
    state.checker = ReadinessChecker(
        app, collect_checks(app), timeout=state.settings.ready_timeout, cache_seconds=state.settings.ready_cache
    )


@erlen.hookimpl(optionalhook=True)
def erlen_mail_before_send(message: t.Any) -> None:
    state = state_of()
    if state.tracing is not None:
        from .tracing import mail_started

        mail_started(state.tracing, message)


@erlen.hookimpl(optionalhook=True)
def erlen_mail_after_send(message: t.Any, result: t.Any) -> None:
    _mail_ended(message, None)


@erlen.hookimpl(optionalhook=True)
def erlen_mail_send_failed(message: t.Any, error: BaseException) -> None:
    _mail_ended(message, error)


@erlen.hookimpl(optionalhook=True)
def erlen_auth_login_failed(email: str, user: t.Any, reason: str) -> None:
    metrics = state_of().metrics
    if metrics is not None:
        metrics.login_failures.labels(reason).inc()


def _mail_ended(message: t.Any, error: BaseException | None) -> None:
    state = state_of()
    if state.metrics is not None:
        state.metrics.mail_deliveries.labels("failed" if error is not None else "sent").inc()
    if state.tracing is not None:
        from .tracing import mail_ended

        mail_ended(state.tracing, message, error)


def _check_paths(settings: OpsSettings) -> None:
    """Refuse two endpoints on one path: the first would answer it, the other never.

    :raises erlen.SettingError: two of OPS_HEALTH_PATH, OPS_READY_PATH and (with metrics on) OPS_METRICS_PATH
        are the same.
    """
    paths = {"OPS_HEALTH_PATH": settings.health_path, "OPS_READY_PATH": settings.ready_path}
    if settings.metrics:
        paths["OPS_METRICS_PATH"] = settings.metrics_path
    seen: dict[str, str] = {}
    for key, path in paths.items():
        if path in seen:
            raise erlen.SettingError(
                f"Setting {key} of plugin 'ops' is {path!r}, the path of {seen[path]} too: give each endpoint a "
                "path of its own.",
                key=key,
                plugin="ops",
            )
        seen[path] = key


def _check_multiprocess_dir() -> None:
    """Refuse a ``PROMETHEUS_MULTIPROC_DIR`` the workers cannot write their metrics in, at startup.

    Otherwise every request would fail (a 500) when its metrics are written, or the first scrape would.

    :raises erlen.ConfigError: the folder does not exist, is not a folder, or cannot be written.
    """
    folder = multiprocess_dir()
    if folder is None:
        return
    problem = None
    if not os.path.exists(folder):
        problem = "does not exist"
    elif not os.path.isdir(folder):
        problem = "is not a folder"
    elif not os.access(folder, os.W_OK | os.X_OK):
        problem = "this process cannot write in"
    if problem is not None:
        raise erlen.ConfigError(
            f"Plugin 'ops': OPS_METRICS is on and {MULTIPROCESS_VARIABLE} names {folder!r}, which {problem}: "
            "create the folder (empty, writable by the app's user) before the app starts, as the operations "
            f"guide shows, or unset {MULTIPROCESS_VARIABLE} for metrics of this process only."
        )


def _hook_wrapper(state: OpsState) -> t.Callable[[t.Callable[..., t.Any], str, str], t.Callable[..., t.Any]]:
    def wrap(function: t.Callable[..., t.Any], hook: str, plugin: str) -> t.Callable[..., t.Any]:
        metrics, tracing = state.metrics_made, state.tracing_made
        if metrics is not None:
            function = metrics.timed_hook(function, hook, plugin)
        if tracing is not None:
            function = tracing.traced_hook(function, hook, plugin)
        return function

    return wrap


@erlen.hookimpl(optionalhook=True)
def erlen_tasks_worker_started(app: Flask) -> None:
    # A worker serves jobs: its metrics (erlen-tasks' come from erlen_ops_metrics) and tracing are wanted now, in
    # an app the erlen command made (`erlen tasks worker`) too.
    state_of(app).start()
