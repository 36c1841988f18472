"""The lazy set-up of metrics and tracing (an app the ``erlen`` command made sets them up at its first request)
when it fails partway: each step is done once, the failed one again at the next request, the app answering.

Before, a set-up that failed after the engine was instrumented (a plugin's ``erlen_ops_metrics`` raising) failed
the request (a 500), and the next request ran it again from the start: the engine instrumented twice (each query
counted twice, each statement traced twice) and the metrics of the plugins before it registered twice, which
prometheus-client refuses, so the set-up could never succeed.
"""

from __future__ import annotations

import logging
import typing as t

import pytest

pytest.importorskip("opentelemetry.sdk", reason="tracing needs erlen-ops[tracing]")
pytest.importorskip("opentelemetry.instrumentation.flask", reason="tracing needs erlen-ops[tracing]")

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from test_metrics import LOCAL, scrape

import erlen
from erlen.testing import MakeApp, free_port
from erlen_ops import state_of

AFTERWARDS = (
    " Requests are answered meanwhile, without what is not set up yet; the set-up goes on from there at the next "
    "request."
)


def ops_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    """erlen-ops' set-up lines above DEBUG (not the scrape's lines about a sample plugin's broken gauge)."""
    return [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.name == "erlen_ops" and record.levelno > logging.DEBUG
    ]


def test_a_set_up_failing_partway_goes_on_at_the_next_request_and_counts_and_traces_each_query_once(
    make_app: MakeApp, tmp_path: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    erlen_db = pytest.importorskip("erlen_db", reason="the database metrics need erlen-db")
    pytest.importorskip("opentelemetry.instrumentation.sqlalchemy", reason="tracing needs erlen-ops[tracing]")
    import sqlalchemy as sa

    caplog.set_level(logging.DEBUG, logger="erlen_ops")
    config = {
        "OPS_METRICS": True,
        "OPS_TRACING": True,
        "OPS_TRACING_EXPORTER": "none",
        "DB_URL": f"sqlite:///{tmp_path / 'lazy.sqlite3'}",
    }
    with erlen.deferring_setup():  # as the erlen command makes it: metrics and tracing at its first request
        app = make_app(["db", "ops_sample_plugin", "ops_flaky_plugin", "ops"], config)

    @app.route("/three")
    def three() -> str:
        for number in range(3):
            erlen_db.session.execute(sa.text(f"SELECT {number + 40}"))
        return "ok"

    erlen.finish_setup(app)
    state = state_of(app)
    client = app.test_client()
    try:
        # The set-up fails at the flaky plugin, after the engine was instrumented: both requests are answered.
        assert client.get("/three").status_code == 200
        assert client.get("/three").status_code == 200
        assert not state.started
        tracing = state.tracing_made
        assert tracing is not None
        exporter = InMemorySpanExporter()
        tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
        app.extensions["flaky"]["fail"] = False  # its queue is back
        assert client.get("/three").status_code == 200
        assert state.started
        response = client.get("/metrics", environ_base=LOCAL)
        found = scrape(client)
    finally:
        erlen_db.database_of(app).dispose()
    # Three requests of three statements each, every one counted once (from the first request: the request
    # metrics were set up before the flaky plugin failed).
    three_label = (("endpoint", "three"),)
    assert found[("erlen_db_queries_per_request_count", three_label)] == 3
    assert found[("erlen_db_queries_per_request_sum", three_label)] == 9
    assert found[("erlen_db_pool_connections_in_use", ())] == 0
    sql = [
        span for span in exporter.get_finished_spans() if "SELECT 4" in str((span.attributes or {}).get("db.statement"))
    ]
    assert sorted(str((span.attributes or {})["db.statement"]) for span in sql) == [
        "SELECT 40",
        "SELECT 41",
        "SELECT 42",
    ]
    # Each plugin's metrics made once: the sample plugin's (before the flaky one) were not made again, the flaky
    # plugin's first metrics were taken back out when it failed, and it ran until it succeeded.
    body = response.data.decode()
    for name in (
        "erlen_sample_jobs_total",
        "erlen_sample_queue_depth",
        "erlen_flaky_jobs_total",
        "erlen_flaky_backlog",
    ):
        assert body.count(f"# HELP {name} ") == 1, body
    assert found[("erlen_flaky_backlog", ())] == 2
    assert app.extensions["flaky"]["calls"] == 3
    assert ops_lines(caplog) == [
        (
            logging.ERROR,
            "erlen-ops could not set up its metrics and tracing: Plugin 'flaky' failed in erlen_ops_metrics "
            "(ConnectionError: the flaky plugin's queue cannot be reached): its metrics are left out until it "
            "succeeds. Fix the plugin, or turn OPS_METRICS off." + AFTERWARDS,
        ),
        (logging.WARNING, "erlen-ops' metrics and tracing are set up, after 2 failed set-up(s)."),
    ]


def test_an_exporter_that_cannot_be_made_names_the_setting_and_the_app_answers_until_it_can(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenTelemetry's OTLP exporter raises when made with a credential provider that is not installed: the first
    request's set-up fails at its first step, saying which setting; requests are answered, /metrics says why it
    has nothing; once the environment is fixed, the next request sets everything up."""
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="tracing needs erlen-ops[tracing]")
    caplog.set_level(logging.DEBUG, logger="erlen_ops")
    monkeypatch.setenv("OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER", "erlen-test-missing-provider")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")  # the spans' export to a closed port ends soon
    config = {
        "OPS_METRICS": True,
        "OPS_TRACING": True,
        "OPS_TRACING_EXPORTER": "otlp",
        "OPS_TRACING_ENDPOINT": f"http://127.0.0.1:{free_port()}/v1/traces",
    }
    with erlen.deferring_setup():
        app = make_app(["ops_sample_plugin", "ops"], config)
    erlen.finish_setup(app)
    state = state_of(app)
    client = app.test_client()
    assert client.get("/hello").data == b"Hello, World!"
    unavailable = client.get("/metrics", environ_base=LOCAL)
    assert unavailable.status_code == 503
    assert unavailable.data == b"Metrics unavailable: erlen-ops could not set them up yet (see the app's log).\n"
    assert state.tracing_made is None and state.metrics_made is None
    monkeypatch.delenv("OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER")
    try:
        assert client.get("/hello").data == b"Hello, World!"
        assert state.started
        tracing = state.tracing_made
        assert tracing is not None
        exporter = InMemorySpanExporter()
        tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
        # Traced, though the app had served requests before its tracing was set up (Flask takes no request hook
        # from then on: erlen-ops registered its own when the app was made).
        assert client.get("/hello").data == b"Hello, World!"
        [server] = [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER]
        assert server.attributes is not None and server.attributes["http.route"] == "/hello"
        found = scrape(client)
    finally:
        if state.tracing_made is not None:
            state.tracing_made.provider.shutdown()
    # The two requests after the set-up (those before had no metrics to count them).
    assert (
        found[
            ("erlen_http_request_duration_seconds_count", (("endpoint", "hello"), ("method", "GET"), ("status", "200")))
        ]
        == 2
    )
    assert ops_lines(caplog) == [
        (
            logging.ERROR,
            "erlen-ops could not set up its metrics and tracing: OPS_TRACING is on but the tracing could not be set "
            "up (RuntimeError: Requested component 'erlen-test-missing-provider' not found in entry point "
            "'opentelemetry_otlp_credential_provider'): check OPS_TRACING_EXPORTER ('otlp'), OPS_TRACING_ENDPOINT "
            "and the OTEL_* environment variables, or turn OPS_TRACING off." + AFTERWARDS,
        ),
        (logging.WARNING, "erlen-ops' metrics and tracing are set up, after 2 failed set-up(s)."),
    ]


def test_while_one_request_retries_a_failed_set_up_the_others_do_not_wait_for_it(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin's erlen_ops_metrics failed at the first request; at a later one it hangs (its queue does not answer)
    before failing again. Before, every other request waited for that retry (the set-up's lock), and then ran its
    own, one after the other: with a hook that hangs for its timeout, the app stalled. Now a retry under way keeps no
    other request waiting: they are answered without what is not set up yet, as the failed set-up's message says."""
    import threading

    caplog.set_level(logging.DEBUG, logger="erlen_ops")
    with erlen.deferring_setup():
        app = make_app(["ops_sample_plugin", "ops_flaky_plugin", "ops"], {"OPS_METRICS": True})
    erlen.finish_setup(app)
    state = state_of(app)
    flaky = app.extensions["flaky"]
    assert app.test_client().get("/hello").data == b"Hello, World!"  # the set-up failed at the flaky plugin
    assert not state.started and flaky["calls"] == 1
    flaky["gate"], flaky["entered"] = gate, entered = threading.Event(), threading.Event()
    answers: list[bytes] = []
    retrying = threading.Thread(target=lambda: answers.append(app.test_client().get("/hello").data), daemon=True)
    retrying.start()
    try:
        assert entered.wait(30), "the next request did not retry the set-up"
        other_answered = threading.Event()

        def other() -> None:
            answers.append(app.test_client().get("/hello").data)
            other_answered.set()

        threading.Thread(target=other, daemon=True).start()
        # Not a measure of time: before, this request waited until the gate opened, which only the test does.
        assert other_answered.wait(30), "a request waited for another request's retry of the set-up"
        assert flaky["calls"] == 2 and not state.started
    finally:
        gate.set()
        retrying.join(30)
    assert answers == [b"Hello, World!", b"Hello, World!"]
    flaky["gate"], flaky["fail"] = None, False
    assert app.test_client().get("/hello").data == b"Hello, World!"
    assert state.started and flaky["calls"] == 3
