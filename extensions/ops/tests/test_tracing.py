"""OpenTelemetry tracing, recorded with the SDK's in-memory exporter."""

from __future__ import annotations

import typing as t

import pytest

pytest.importorskip("opentelemetry.sdk", reason="tracing needs erlen-ops[tracing]")
pytest.importorskip("opentelemetry.instrumentation.flask", reason="tracing needs erlen-ops[tracing]")

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from erlen.testing import MakeApp
from erlen_ops import state_of

PLUGINS = ["ops_sample_plugin", "ops"]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def recording(app: t.Any) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    tracing = state_of(app).tracing
    assert tracing is not None
    tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


def test_tracing_is_off_by_default(make_app: MakeApp) -> None:
    assert state_of(make_app(PLUGINS)).tracing is None


def test_a_request_continues_the_callers_trace(make_app: MakeApp) -> None:
    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none"})
    exporter = recording(app)
    response = app.test_client().get("/hello", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    assert response.status_code == 200
    servers = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert len(servers) == 1
    span = servers[0]
    assert span.attributes is not None and span.attributes["http.route"] == "/hello"
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT_ID
    assert span.resource.attributes["service.name"] == "erlen_test_app"


def test_health_endpoints_are_not_traced(make_app: MakeApp) -> None:
    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none"})
    exporter = recording(app)
    client = app.test_client()
    client.get("/healthz")
    client.get("/readyz")
    assert [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER] == []


def test_plugin_hooks_get_spans_of_their_own(make_app: MakeApp) -> None:
    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none", "OPS_READY_CACHE": 0})
    exporter = recording(app)
    app.test_client().get("/readyz")  # readiness does not call hooks; a hook call does:
    import erlen

    erlen.plugins_of(app).call_each("erlen_health_checks", app=app)
    names = [span.name for span in exporter.get_finished_spans()]
    assert "erlen_health_checks sample" in names
    span = next(span for span in exporter.get_finished_spans() if span.name == "erlen_health_checks sample")
    assert span.attributes == {"erlen.hook": "erlen_health_checks", "erlen.plugin": "sample"}


def test_sql_and_outgoing_mail_are_traced_within_the_request(make_app: MakeApp, tmp_path: t.Any) -> None:
    erlen_db = pytest.importorskip("erlen_db", reason="SQL spans need erlen-db")
    erlen_mail = pytest.importorskip("erlen_mail", reason="mail spans need erlen-mail")
    pytest.importorskip("opentelemetry.instrumentation.sqlalchemy", reason="tracing needs erlen-ops[tracing]")
    import sqlalchemy as sa

    config = {
        "OPS_TRACING": True,
        "OPS_TRACING_EXPORTER": "none",
        "DB_URL": f"sqlite:///{tmp_path / 'trace.sqlite3'}",
        "MAIL_BACKEND": "memory",
        "MAIL_DEFAULT_SENDER": "app@example.com",
    }
    app = make_app(["db", "mail", *PLUGINS], config)
    exporter = recording(app)

    @app.route("/work")
    def work() -> str:
        erlen_db.session.execute(sa.text("SELECT 42"))
        erlen_mail.send(erlen_mail.Message("Hi", to=["a@example.com"], body="Hello"))
        return "done"

    try:
        assert app.test_client().get("/work").status_code == 200
    finally:
        erlen_db.database_of(app).dispose()
    spans = exporter.get_finished_spans()
    server = next(span for span in spans if span.kind == SpanKind.SERVER)
    sql = [span for span in spans if span.attributes and "SELECT 42" in str(span.attributes.get("db.statement", ""))]
    mail = [span for span in spans if span.name == "mail send"]
    assert len(sql) == 1 and len(mail) == 1
    for span in (*sql, *mail):
        assert span.context.trace_id == server.context.trace_id
    assert mail[0].attributes == {"erlen.mail.recipients": 1, "erlen.mail.subject_length": 2}
    assert mail[0].start_time is not None and mail[0].end_time is not None
    assert mail[0].start_time <= mail[0].end_time


def test_the_otlp_exporter_is_chosen_in_config(make_app: MakeApp) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="the OTLP exporter is in erlen-ops[tracing]")
    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    tracing = state_of(app).tracing
    assert tracing is not None
    processors = tracing.provider._active_span_processor._span_processors  # what the SDK exposes no other way
    exporters = [
        type(getattr(processor, "_exporter", None) or processor.span_exporter).__name__ for processor in processors
    ]
    assert exporters == ["OTLPSpanExporter"]
    tracing.provider.shutdown()


@pytest.mark.parametrize(
    "endpoint",
    [
        "localhost:4318/v1/traces",
        "127.0.0.1:4318",
        "ftp://collector/",
        "http://",
        "http://collector:99999/v1/traces",
        "http://collector:port/v1/traces",
        "http://[::1/v1/traces",
    ],
)
def test_an_endpoint_that_is_not_an_http_url_names_the_setting(make_app: MakeApp, endpoint: str) -> None:
    """The exporter took any text, then failed at each export in the background, far from the setting: a port
    beyond 65535 or not a number too, and a bracket left open says what is wanted, not only urlsplit's reason."""
    import erlen

    with pytest.raises(erlen.SettingError, match=r"OPS_TRACING_ENDPOINT.*must be an http:// or https:// URL"):
        make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_ENDPOINT": endpoint})


def test_an_empty_endpoint_is_the_exporters_default(make_app: MakeApp) -> None:
    """As tracing reads it (and as the environment's empty value is read): not a URL refused at startup."""
    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none", "OPS_TRACING_ENDPOINT": ""})
    assert app.config["OPS_TRACING_ENDPOINT"] == ""
    tracing = state_of(app).tracing
    assert tracing is not None
    tracing.provider.shutdown()


def test_a_malformed_trace_header_starts_a_new_trace(make_app: MakeApp) -> None:
    """A traceparent that is not W3C Trace Context (or an all-zero one) is ignored: the request is answered in a
    trace of its own, not refused."""
    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none"})
    exporter = recording(app)
    client = app.test_client()
    for header in ["garbage", f"00-{'0' * 32}-{PARENT_ID}-01", f"00-{TRACE_ID}-{PARENT_ID}-01" * 50]:
        assert client.get("/hello", headers={"traceparent": header, "tracestate": "a=" + "x" * 5000}).status_code == 200
    servers = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert len(servers) == 3 and all(span.parent is None for span in servers)
    assert all(span.context.trace_id != 0 for span in servers)
