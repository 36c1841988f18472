"""OpenTelemetry tracing of one app: requests, SQL, outgoing mail and every plugin hook.

Only imported when ``OPS_TRACING`` is on; it needs ``erlen-ops[tracing]``.
Each app has a tracer provider of its own (never OpenTelemetry's global one),
so two apps in one process trace apart. Requests continue the trace of an
incoming ``traceparent`` header (W3C Trace Context, OpenTelemetry's default
propagator).
"""

from __future__ import annotations

import time
import typing as t
from collections.abc import Callable
from dataclasses import dataclass

import erlen

if t.TYPE_CHECKING:
    from flask import Flask
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

#: Messages whose send has started and not ended, at most; older ones are forgotten (a cancelled send never ends).
MAIL_PENDING_LIMIT = 1000


@dataclass
class Tracing:
    """The tracer provider of one app and its tracer.

    :param provider: add span processors to it (a test's in-memory exporter).
    :param tracer: makes erlen-ops' own spans (hooks, mail).
    """

    provider: TracerProvider
    tracer: Tracer

    def traced_hook(self, function: Callable[..., t.Any], hook: str, plugin: str) -> Callable[..., t.Any]:
        """``function`` run in a span ``hook plugin`` of its own."""
        tracer = self.tracer
        name = f"{hook} {plugin}"
        attributes = {"erlen.hook": hook, "erlen.plugin": plugin}

        def traced(*args: t.Any, **kwargs: t.Any) -> t.Any:
            with tracer.start_as_current_span(name, attributes=attributes):
                return function(*args, **kwargs)

        return traced


def start(app: Flask) -> Tracing:
    """Set up tracing on ``app`` from its ``OPS_TRACING_*`` settings.

    :raises erlen.SettingError: the tracing packages are not installed.
    """
    try:
        from opentelemetry.instrumentation.flask import FlaskInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError as exc:
        raise erlen.SettingError(
            f"OPS_TRACING is on but OpenTelemetry is not installed ({exc}): install erlen-ops[tracing], "
            "or turn OPS_TRACING off.",
            key="OPS_TRACING",
            plugin="ops",
        ) from None
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
    # The health, readiness and metrics endpoints are answered outside this, untraced.
    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)  # type: ignore[no-untyped-call]
    return Tracing(provider, provider.get_tracer("erlen_ops"))


def instrument_engine(tracing: Tracing, engine: t.Any) -> None:
    """Trace every SQL statement run on ``engine``."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider

    # The engine's own tracer, not SQLAlchemyInstrumentor: that one is a process-wide singleton that
    # instruments once (the first app's engine only) and patches create_engine for every library.
    usage = NoOpMeterProvider().get_meter("erlen_ops").create_up_down_counter("db.client.connections.usage")
    tracer = tracing.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]


def mail_started(started: dict[int, int], message: object) -> None:
    """Note when sending ``message`` started."""
    if len(started) >= MAIL_PENDING_LIMIT:
        started.pop(next(iter(started)))
    started[id(message)] = time.time_ns()


def mail_ended(tracing: Tracing, started: dict[int, int], message: t.Any, error: BaseException | None) -> None:
    """Record the span of sending ``message``, from its start to now."""
    from opentelemetry.trace import Status, StatusCode

    begun = started.pop(id(message), None)
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
