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


def _mail_app(make_app: MakeApp) -> t.Any:
    pytest.importorskip("erlen_mail", reason="mail spans need erlen-mail")
    config = {
        "OPS_TRACING": True,
        "OPS_TRACING_EXPORTER": "none",
        "MAIL_BACKEND": "memory",
        "MAIL_DEFAULT_SENDER": "app@example.com",
    }
    return make_app(["mail", "ops"], config)


def _message(number: int) -> t.Any:
    import erlen_mail

    return erlen_mail.Message(f"Message {number}", to=["a@example.com"], body="Hello")


def test_one_message_sent_on_two_threads_at_once_gets_two_spans_each_from_its_own_start(make_app: MakeApp) -> None:
    """The starts were kept by id(message) alone: a second send of the same message (a shared Message sent by two
    requests at once) replaced the first's start, so the first span began at the second's start and the second
    at its end (no start left). Each thread's send now has its own start."""
    import threading
    import time

    import erlen

    app = _mail_app(make_app)
    exporter = recording(app)
    registry = erlen.plugins_of(app)
    shared = _message(0)
    first_started, second_started, first_ended = threading.Event(), threading.Event(), threading.Event()
    marks: dict[str, int] = {}

    def first() -> None:
        with app.app_context():
            registry.call_each("erlen_mail_before_send", message=shared)
            marks["after_first_start"] = time.time_ns()
            first_started.set()
            second_started.wait(30)
            registry.notify("erlen_mail_after_send", message=shared, result=None)
            first_ended.set()

    def second() -> None:
        first_started.wait(30)
        with app.app_context():
            marks["before_second_start"] = time.time_ns()
            registry.call_each("erlen_mail_before_send", message=shared)
            marks["after_second_start"] = time.time_ns()
            second_started.set()
            first_ended.wait(30)
            marks["before_second_end"] = time.time_ns()
            registry.notify("erlen_mail_after_send", message=shared, result=None)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    spans = sorted(
        (span for span in exporter.get_finished_spans() if span.name == "mail send"),
        key=lambda span: span.end_time or 0,
    )
    assert len(spans) == 2
    assert spans[0].start_time is not None and spans[0].start_time <= marks["after_first_start"]
    assert spans[1].start_time is not None
    assert marks["before_second_start"] <= spans[1].start_time <= marks["after_second_start"]
    assert spans[1].start_time < marks["before_second_end"]


def test_a_start_left_by_a_message_since_gone_is_not_taken_for_another_messages(make_app: MakeApp) -> None:
    """A queued message meets erlen_mail_before_send and never ends there (a worker sends it later); kept by
    id(message), its start outlived it, and the next message given the same id (CPython reuses an object's
    memory) whose send failed before the hooks (no start of its own) got a span from that old start."""
    import time

    import erlen

    class Later:
        """Another message: an object of the same size as a Message, so it gets the freed one's memory."""

        recipients = ["b@example.com"]
        subject = "Later"

    app = _mail_app(make_app)
    exporter = recording(app)
    registry = erlen.plugins_of(app)
    with app.app_context():
        queued = _message(1)
        registry.call_each("erlen_mail_before_send", message=queued)  # as erlen_mail.queue does
        gone = id(queued)
        del queued
        mark = time.time_ns()
        kept = []  # alive, so each new object gets new memory until the freed one is reused
        for _ in range(10_000):
            later = Later()
            if id(later) == gone:
                break
            kept.append(later)
        assert id(later) == gone, "no new object reused the freed memory: the test proves nothing"
        registry.notify("erlen_mail_send_failed", message=later, error=ValueError("no recipient"))
    (span,) = [span for span in exporter.get_finished_spans() if span.name == "mail send"]
    assert span.start_time is not None and span.start_time >= mark


def test_starts_evicted_by_threads_at_once_raise_nothing(make_app: MakeApp) -> None:
    """Starts that never end (every queued message's, every cancelled send's) filled the table to its limit;
    then each start evicted the oldest by reading it, then popping it: two threads could read the same one and
    the second pop raised KeyError (or the read, RuntimeError), which erlen-mail turned into a failed send or
    a failed queue(). Run with a tiny switch interval, so the threads interleave as a busy worker's do."""
    import sys
    import threading

    import erlen
    from erlen_ops.tracing import MAIL_PENDING_LIMIT

    app = _mail_app(make_app)
    registry = erlen.plugins_of(app)
    messages = [_message(number) for number in range(MAIL_PENDING_LIMIT + 4 * 2000)]
    with app.app_context():
        for message in messages[:MAIL_PENDING_LIMIT]:
            registry.call_each("erlen_mail_before_send", message=message)
    errors: list[BaseException] = []

    def start_many(offset: int) -> None:
        with app.app_context():
            for number in range(MAIL_PENDING_LIMIT + offset, len(messages), 4):
                try:
                    registry.call_each("erlen_mail_before_send", message=messages[number])
                except Exception as exc:
                    errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=start_many, args=(offset,)) for offset in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


def test_secrets_in_the_url_are_not_exported_with_the_request_span(make_app: MakeApp) -> None:
    """The request span carried the whole URL (http.target): a reset or sign-in token in the path, an API key or a
    password in the query string went to the tracing backend, kept for weeks, readable by every developer. The
    values of route variables named like secrets, and of such query parameters, are hidden; the rest stays."""
    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none", "PROPAGATE_EXCEPTIONS": False})
    exporter = recording(app)

    @app.route("/reset/<token>/<int:step>")
    def reset(token: str, step: int) -> str:
        return "reset"

    @app.route("/fails/<secret>")
    def fails(secret: str) -> str:
        raise RuntimeError("a 500, answered by Flask's error handling")

    client = app.test_client()
    assert client.get("/reset/s3cr3t-r%C3%A9set/2?api_key=K3Y-abc&password=pw-xyz&page=2").status_code == 200
    assert client.get("/fails/hidden-value").status_code == 500
    targets = [
        span.attributes.get("http.target")
        for span in exporter.get_finished_spans()
        if span.kind == SpanKind.SERVER and span.attributes
    ]
    assert targets == ["/reset/***/2?api_key=***&password=***&page=2", "/fails/***"]


def test_secrets_of_path_and_uuid_route_variables_are_not_exported_with_the_request_span(make_app: MakeApp) -> None:
    """A secret route variable was hidden only when its value was one path segment, written as Python writes it:
    a <path:token> holding slashes, or a <uuid:token> sent in capitals (the converter takes them), was exported."""
    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none"})
    exporter = recording(app)

    @app.route("/files/<path:signed_token>/download")
    def download(signed_token: str) -> str:
        return "file"

    @app.route("/invites/<uuid:invite_token>")
    def invite(invite_token: t.Any) -> str:
        return "invite"

    client = app.test_client()
    assert client.get("/files/abc/def-s3cr3t/download?page=1").status_code == 200
    assert client.get("/invites/0F0E5C0E-1A2B-4C3D-8E9F-00112233AABB").status_code == 200
    targets = [
        span.attributes.get("http.target")
        for span in exporter.get_finished_spans()
        if span.kind == SpanKind.SERVER and span.attributes
    ]
    assert targets == ["/files/***/download?page=1", "/invites/***"]


def test_secret_route_variables_inside_a_path_segment_are_not_exported_with_the_request_span(
    make_app: MakeApp,
) -> None:
    """A secret route variable was hidden only when its value filled a whole path segment: in /r/<token>.json or
    /reset/<token>-confirm the token went to the tracing backend, in http.target and the whole URL, as sent or
    percent-encoded. The exported path is now built from the matched rule, the secrets written ***."""
    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none"})
    exporter = recording(app)

    @app.route("/r/<token>.json")
    def receipt(token: str) -> str:
        return "receipt"

    @app.route("/reset/<reset_token>-confirm/<int:step>")
    def confirm(reset_token: str, step: int) -> str:
        return "confirm"

    @app.route("/pages/<name>")
    def page(name: str) -> str:
        return "page"

    client = app.test_client()
    sent = [
        "/r/s3cr3t-abc.json?page=2",
        "/reset/s3cr3t-def-confirm/2?api_key=K3Y",
        "/reset/%73%33cr%33t-%C3%A9t%C3%A9-confirm/3",  # s3cr3t-été, every letter it could be sent as
        "/pages/s3cr3t-not-secret",  # a variable not named like a secret: kept as sent
    ]
    for url in sent:
        assert client.get(url).status_code == 200
    # Without the request's URI as sent (a server setting neither RAW_URI nor REQUEST_URI), the whole URL is
    # exported, as http.url, rebuilt from the environ.
    assert client.get(sent[2], environ_overrides={"RAW_URI": "", "REQUEST_URI": ""}).status_code == 200
    servers = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER and span.attributes]
    assert [span.attributes.get("http.target") for span in servers if span.attributes] == [
        "/r/***.json?page=2",
        "/reset/***-confirm/2?api_key=***",
        "/reset/***-confirm/3",
        "/pages/s3cr3t-not-secret",
        None,
    ]
    assert servers[4].attributes is not None
    assert servers[4].attributes.get("http.url") == "http://localhost/reset/***-confirm/3"
    for span in (*servers[:3], servers[4]):
        assert span.attributes is not None
        exported = " ".join(str(value) for value in span.attributes.values())
        for secret in ("s3cr3t", "%73%33cr%33t", "%C3%A9t%C3%A9", "été"):
            assert secret not in exported, (secret, dict(span.attributes))


def test_a_secret_route_variable_no_converter_can_write_as_stars_exports_the_routes_pattern(
    make_app: MakeApp,
) -> None:
    """An int (or a custom converter) cannot write ***: the span shows the route's pattern, no value in it."""
    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none"})
    exporter = recording(app)

    @app.route("/codes/<int:token>.txt")
    def code(token: int) -> str:
        return "code"

    assert app.test_client().get("/codes/913377.txt?password=pw").status_code == 200
    (server,) = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert server.attributes is not None
    assert server.attributes.get("http.target") == "/codes/<int:token>.txt?password=***"


def test_a_secret_route_variable_is_hidden_when_the_route_answers_405_or_redirects(make_app: MakeApp) -> None:
    """A request that matched a route's path but not its method (405), or lacked its trailing slash (a 308 to the
    rule's URL), has no matched rule (request.url_rule is None): its path, token included, was exported as sent."""
    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none"})
    exporter = recording(app)

    @app.route("/reset/<token>")
    def reset(token: str) -> str:
        return "reset"

    @app.route("/links/<token>/")
    def link(token: str) -> str:
        return "link"

    client = app.test_client()
    assert client.post("/reset/s3cr3t-a?password=pw").status_code == 405
    assert client.get("/links/s3cr3t-b?page=2").status_code == 308
    assert client.get("/nowhere/s3cr3t-not-a-route").status_code == 404  # no route: nothing to tell a secret by
    servers = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER and span.attributes]
    assert [span.attributes.get("http.target") for span in servers if span.attributes] == [
        "/reset/***?password=***",
        "/links/***/?page=2",  # the rule's URL, which the redirect names
        "/nowhere/s3cr3t-not-a-route",
    ]
    for span in servers[:2]:
        assert span.attributes is not None
        assert "s3cr3t" not in " ".join(str(value) for value in span.attributes.values()), dict(span.attributes)


def test_a_secret_route_variable_a_url_value_preprocessor_pops_is_hidden(make_app: MakeApp) -> None:
    """A url_value_preprocessor may pop a variable from request.view_args (g.token = values.pop("token")): the
    span's path was then exported as sent, the token in it, since no variable left was named like a secret."""
    from flask import Blueprint, g

    app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none"})
    exporter = recording(app)
    invites = Blueprint("invites", __name__, url_prefix="/<lang>/invites/<token>")

    @invites.url_value_preprocessor
    def pull(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
        g.token = (values or {}).pop("token", None)

    @invites.route("/accept")
    def accept(lang: str) -> str:
        return "accepted"

    app.register_blueprint(invites)
    assert app.test_client().get("/en/invites/s3cr3t-c/accept?page=1").status_code == 200
    (server,) = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER]
    assert server.attributes is not None
    assert server.attributes.get("http.target") == "/en/invites/***/accept?page=1"


@pytest.mark.parametrize("missing", ["opentelemetry.sdk", "opentelemetry.instrumentation.flask"])
def test_tracing_without_its_packages_is_refused_at_startup_naming_the_setting(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """Also in an app the erlen command made, whose tracing is set up only when it serves: refused when its set-up
    is finished, before any command runs, without importing the packages."""
    import sys

    import erlen

    monkeypatch.setitem(sys.modules, missing, None)  # what Python's import system reads as not installed
    refused = rf"OPS_TRACING is on but OpenTelemetry is not installed .*{missing}.*install erlen-ops\[tracing\]"
    with pytest.raises(erlen.SettingError, match=refused):
        make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none"})
    with erlen.deferring_setup():
        app = make_app(PLUGINS, {"OPS_TRACING": True, "OPS_TRACING_EXPORTER": "none"})
    with pytest.raises(erlen.SettingError, match=refused):
        erlen.finish_setup(app)
