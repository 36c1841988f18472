"""OpenTelemetry tracing of one app: requests, SQL, outgoing mail and every plugin hook.

Only imported when ``OPS_TRACING`` is on; it needs ``erlen-ops[tracing]``.
Each app has a tracer provider of its own (never OpenTelemetry's global one),
so two apps in one process trace apart. Requests continue the trace of an
incoming ``traceparent`` header (W3C Trace Context, OpenTelemetry's default
propagator).
"""

from __future__ import annotations

import threading
import time
import typing as t
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

import erlen
from erlen.redaction import MASK, is_secret_name, redact_text

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from flask import Flask
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer
    from werkzeug.routing import Rule

#: Messages whose send has started and not ended, at most; older ones are forgotten (a cancelled send never ends).
MAIL_PENDING_LIMIT = 1000


class MailStarts:
    """When the sends of the messages being sent started, for their spans; safe to use from several threads.

    A send's start (``erlen_mail_before_send``) and end (``erlen_mail_after_send`` or
    ``erlen_mail_send_failed``) happen on one thread, so a start is kept by thread and message: the same
    message sent by two threads at once has a start for each. It is kept only while the message lives: a
    start that never ends (a queued message meets ``erlen_mail_before_send`` and is sent elsewhere, a plugin
    cancels the send) goes with its message, and no later object given the same ``id`` takes it for its own.

    :param limit: starts kept at most (of messages kept alive), the oldest forgotten first.
    """

    def __init__(self, limit: int = MAIL_PENDING_LIMIT) -> None:
        self.limit = limit
        # Guards _starts: threads start and end sends at once, and evicting reads then removes the oldest.
        self._lock = threading.Lock()
        self._starts: dict[tuple[int, int], tuple[Callable[[], object], int]] = {}
        #: The keys of messages gone since, dropped at the next start or end. The weak references' callback only
        #: appends here: it may run inside the lock (a garbage collection set off by an allocation there).
        self._gone: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self._starts)

    def start(self, message: object) -> None:
        """Note that sending ``message`` starts now, on this thread.

        :param message: the message (an ``erlen_mail.Message``).
        """
        key = (threading.get_ident(), id(message))
        try:
            held: Callable[[], object] = weakref.ref(message, lambda _gone: self._gone.append(key))
        except TypeError:  # an object without weak references: held, until it ends or is evicted
            held = lambda: message  # noqa: E731
        with self._lock:
            self._drop_gone()
            self._starts.pop(key, None)  # sent again on this thread: the newer start, last in eviction order
            while len(self._starts) >= self.limit:
                del self._starts[next(iter(self._starts))]
            self._starts[key] = (held, time.time_ns())

    def end(self, message: object) -> int | None:
        """When sending ``message`` started on this thread, in nanoseconds, forgotten now; ``None`` if unknown.

        :param message: the message whose send ended.
        """
        key = (threading.get_ident(), id(message))
        with self._lock:
            self._drop_gone()
            entry = self._starts.get(key)
            if entry is None or entry[0]() is not message:
                return None
            del self._starts[key]
        return entry[1]

    def _drop_gone(self) -> None:
        """Drop the starts of messages that no longer exist (called with the lock held)."""
        while self._gone:
            key = self._gone.pop()
            entry = self._starts.get(key)
            if entry is not None and entry[0]() is None:  # not a newer message's, given the same id since
                del self._starts[key]


@dataclass
class Tracing:
    """The tracer provider of one app and its tracer.

    :param provider: add span processors to it (a test's in-memory exporter).
    :param tracer: makes erlen-ops' own spans (hooks, mail).
    :param mail_starts: when the messages being sent started.
    """

    provider: TracerProvider
    tracer: Tracer
    mail_starts: MailStarts = field(default_factory=MailStarts)

    def traced_hook(self, function: Callable[..., t.Any], hook: str, plugin: str) -> Callable[..., t.Any]:
        """``function`` run in a span ``hook plugin`` of its own."""
        tracer = self.tracer
        name = f"{hook} {plugin}"
        attributes = {"erlen.hook": hook, "erlen.plugin": plugin}

        def traced(*args: t.Any, **kwargs: t.Any) -> t.Any:
            with tracer.start_as_current_span(name, attributes=attributes):
                return function(*args, **kwargs)

        return traced


#: The modules :func:`start` imports, found (not imported) at startup by :func:`check_installed`.
REQUIRED_MODULES = ("opentelemetry.sdk", "opentelemetry.instrumentation.flask")


def check_installed() -> None:
    """Refuse, at startup, tracing without its packages, finding them without importing them.

    An app the ``erlen`` command created sets up its tracing when it first serves a request: a missing package
    would only show then.

    :raises erlen.SettingError: the tracing packages are not installed.
    """
    import importlib.util

    for name in REQUIRED_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # a parent package missing
            found = False
        if not found:
            raise _not_installed(f"No module named {name!r}")


def _not_installed(reason: object) -> erlen.SettingError:
    return erlen.SettingError(
        f"OPS_TRACING is on but OpenTelemetry is not installed ({reason}): install erlen-ops[tracing], "
        "or turn OPS_TRACING off.",
        key="OPS_TRACING",
        plugin="ops",
    )


def start(app: Flask) -> Tracing:
    """Make the tracer provider of ``app`` from its ``OPS_TRACING_*`` settings (requests are traced once
    :func:`trace_requests` wraps its WSGI callable).

    :raises erlen.SettingError: the tracing packages are not installed.
    """
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError as exc:
        raise _not_installed(exc) from None
    config = app.config
    resource = Resource.create({"service.name": config["OPS_TRACING_SERVICE_NAME"] or app.name})
    sampler = ParentBased(TraceIdRatioBased(config["OPS_TRACING_SAMPLE_RATIO"]))
    provider = TracerProvider(resource=resource, sampler=sampler)
    exporter: SpanExporter | None = None
    kind = config["OPS_TRACING_EXPORTER"]
    if kind == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = config["OPS_TRACING_ENDPOINT"]
        exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    elif kind == "console":
        exporter = ConsoleSpanExporter()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider, provider.get_tracer("erlen_ops"))


class RequestHooks:
    """The request hooks of OpenTelemetry's Flask instrumentation, registered on the app when it is created.

    Flask refuses a request hook added once the app has served a request, and the tracing may be set up later:
    at the first request of an app the ``erlen`` command made, or at a later one when that set-up failed (see
    ``erlen_ops.plugin``). So erlen-ops registers these two at once, and they call the instrumentation's hooks
    from when :func:`trace_requests` hands them over (a request that began before runs them without its span's
    start time, as a span of its own).
    """

    def __init__(self) -> None:
        self.before: Callable[[], object] | None = None
        self.teardown: Callable[[BaseException | None], object] | None = None

    def register(self, app: Flask) -> None:
        """Register the hooks on ``app``, which has served no request yet.

        :param app: the app being created.
        """
        app.before_request(self.run_before)
        app.teardown_request(self.run_teardown)

    def run_before(self) -> None:
        """The instrumentation's ``before_request`` (it starts the request's span, and returns nothing), once
        handed over."""
        before = self.before
        if before is not None:
            before()

    def run_teardown(self, exc: BaseException | None) -> None:
        """The instrumentation's ``teardown_request`` (it ends the request's span), once handed over."""
        teardown = self.teardown
        if teardown is not None:
            teardown(exc)


class _RequestsOf:
    """What OpenTelemetry's Flask instrumentation reads and writes of an app: a WSGI callable to wrap (the one
    inside erlen-ops' middleware, so the health, readiness and metrics endpoints it answers stay untraced) and
    the app's request hooks, where the instrumentation starts and ends each request's span (handed to the
    :class:`RequestHooks` registered on the app).

    The app's own ``wsgi_app`` is never replaced, not even for a moment: the first request's set-up may run while
    other threads' requests go through it.

    :param hooks: the request hooks registered on the app.
    :param wsgi_app: the WSGI callable to trace.
    """

    def __init__(self, hooks: RequestHooks, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app
        self._hooks = hooks

    def before_request(self, function: Callable[[], object]) -> None:
        self._hooks.before = function

    def teardown_request(self, function: Callable[[BaseException | None], object]) -> None:
        self._hooks.teardown = function


def trace_requests(app: Flask, tracing: Tracing, wsgi_app: WSGIApplication, hooks: RequestHooks) -> WSGIApplication:
    """``wsgi_app`` making a span of each request to ``app``, its URL's secrets hidden (:func:`hide_url_secrets`).

    :param app: the app.
    :param tracing: the app's tracing (:func:`start`).
    :param wsgi_app: the WSGI callable to wrap (erlen-ops' middleware's inner one).
    :param hooks: the request hooks registered on ``app`` when it was created, which run the instrumentation's.
    """
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    target = _RequestsOf(hooks, wsgi_app)
    FlaskInstrumentor().instrument_app(  # type: ignore[no-untyped-call]
        target, tracer_provider=tracing.provider, response_hook=hide_url_secrets
    )
    return target.wsgi_app


#: The span attributes of OpenTelemetry's HTTP conventions (old and new) that hold the request's path or URL.
URL_ATTRIBUTES = ("http.target", "http.url", "url.full", "url.path", "url.query")


def hide_url_secrets(span: t.Any, status: str, headers: t.Any) -> None:
    """Hide the secrets of the request's URL in its span, before it is exported (the instrumentation's response
    hook, called while the request is answered).

    The values of the route's variables named like secrets (``<token>``, ``<secret>``) are replaced by ``***``
    wherever the route puts them (a whole segment, ``/r/<token>.json``, ``/reset/<token>-confirm``, several
    segments for a ``path`` variable), whatever the client's percent-encoding: the path exported is built from
    the matched rule and its arguments (:func:`masked_path`). The values of the query's parameters named like
    secrets (``password=``, ``api_key=``, ``token=``) are hidden too, as erlen's log lines hide them
    (:mod:`erlen.redaction`).

    :param span: the request's span.
    :param status: the response's status line (unused).
    :param headers: the response's headers (unused).
    """
    from flask import has_request_context, request

    if not span.is_recording() or not has_request_context():
        return
    attributes = getattr(span, "attributes", None) or {}
    rule, arguments = _rule_of(request)
    path = masked_path(rule, arguments, request.script_root)
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str):
            hidden = _hide_in_url(key, value, path)
            if hidden != value:
                span.set_attribute(key, hidden)


def _rule_of(request: t.Any) -> tuple[Rule | None, t.Mapping[str, t.Any]]:
    """The rule ``request``'s path matched and its variables' values, also for a request whose routing ended in a
    405 (the path matched, not the method) or a redirect (the rule's URL with a trailing slash), which have no
    ``request.url_rule`` but whose path holds the rule's variables all the same.

    :param request: the current request.
    :returns: ``(None, {})`` when no rule matches its path.
    """
    from flask import current_app
    from werkzeug.exceptions import MethodNotAllowed
    from werkzeug.routing import RequestRedirect

    if request.url_rule is not None:
        return request.url_rule, request.view_args or {}
    failed = request.routing_exception
    adapter: t.Any = current_app.create_url_adapter(request)
    try:
        if adapter is not None and isinstance(failed, MethodNotAllowed) and failed.valid_methods:
            rule, arguments = adapter.match(method=next(iter(failed.valid_methods)), return_rule=True)
            return rule, arguments
        if adapter is not None and isinstance(failed, RequestRedirect):
            path = urlsplit(failed.new_url).path
            root = quote(request.script_root, safe="/")
            rule, arguments = adapter.match(
                path[len(root) :] if root and path.startswith(root) else path, return_rule=True
            )
            return rule, arguments
    except Exception:  # no rule after all (another redirect, a 404): nothing to tell a secret by
        return None, {}
    return None, {}


def masked_path(rule: Rule | None, arguments: t.Mapping[str, t.Any], script_root: str = "") -> str | None:
    """The path of a request to ``rule`` with ``arguments``, the values of its secret variables written ``***``.

    :param rule: the matched rule (``request.url_rule``); ``None`` for a request that matched none.
    :param arguments: the values of its variables (``request.view_args``).
    :param script_root: the prefix the app is mounted under (``request.script_root``), put back in front.
    :returns: ``None`` when no variable is named like a secret (the path is exported as sent); the rule's
        pattern (``/reset/<int:pin>``, no value in it) when its converters cannot write ``***``.
    """
    # The rule's own variables: a url_value_preprocessor may have popped one from request.view_args (then the
    # rule cannot be built with the others alone, and its pattern is exported).
    if rule is None or not any(is_secret_name(name) for name in (*rule.arguments, *arguments)):
        return None
    masked = {name: MASK if is_secret_name(name) else value for name, value in arguments.items()}
    masked.update({name: MASK for name in rule.arguments if is_secret_name(name)})
    try:
        built = rule.build(masked, append_unknown=False)
    except Exception:  # a converter refusing '***' (an int, a custom one): no value is kept rather than one
        built = None
    path = rule.rule if built is None else built[1]
    return quote(script_root, safe="/") + path if script_root else path


def _hide_in_url(key: str, value: str, path: str | None) -> str:
    """The span attribute ``key``'s ``value`` with its path replaced by ``path`` and its query's secrets hidden.

    :param key: one of :data:`URL_ATTRIBUTES`: ``url.query`` is the query alone (no ``?``), ``url.path`` the path
        alone, ``http.target`` the path and query as sent, ``http.url`` and ``url.full`` the whole URL.
    :param value: its value.
    :param path: the path with the secret route variables masked (:func:`masked_path`), or ``None`` to keep it.
    """
    if key == "url.query":
        return redact_text(value)
    if key in ("http.url", "url.full"):
        parts = urlsplit(value)
        return urlunsplit(parts._replace(path=parts.path if path is None else path, query=redact_text(parts.query)))
    sent, mark, query = value.partition("?")
    return (sent if path is None else path) + mark + (redact_text(query) if query else "")


def instrument_engine(tracing: Tracing, engine: t.Any) -> None:
    """Trace every SQL statement run on ``engine``."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider

    # The engine's own tracer, not SQLAlchemyInstrumentor: that one is a process-wide singleton that
    # instruments once (the first app's engine only) and patches create_engine for every library.
    usage = NoOpMeterProvider().get_meter("erlen_ops").create_up_down_counter("db.client.connections.usage")
    tracer = tracing.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]


def mail_started(tracing: Tracing, message: object) -> None:
    """Note when sending ``message`` started."""
    tracing.mail_starts.start(message)


def mail_ended(tracing: Tracing, message: t.Any, error: BaseException | None) -> None:
    """Record the span of sending ``message``, from its start (or now, if its start is unknown) to now."""
    from opentelemetry.trace import Status, StatusCode

    begun = tracing.mail_starts.end(message)
    span = tracing.tracer.start_span(
        "mail send",
        start_time=begun,
        attributes={
            "erlen.mail.recipients": len(getattr(message, "recipients", None) or ()),
            "erlen.mail.subject_length": len(getattr(message, "subject", "") or ""),
        },
    )
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()
