"""erlen-ops keeps the deferred set-up deferred: ``erlen --app APP --help`` of an app with ``ops`` sets up no database.

erlen-ops reads the database engine (to count and trace SQL) and every plugin's readiness checks and metrics
(erlen-db's check imports SQLAlchemy); done while the app was created, that ran every deferred step of the
plugins before it (engines, models) for a command that only lists the commands. Both are deferred steps now
(see :func:`erlen.defer_setup`): a worker, or a command that runs, still gets them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from test_lazy_startup import HIDE_FLASK_COMMANDS

import erlen

pytest.importorskip("erlen_ops", reason="these tests are of erlen-ops")
pytest.importorskip("opentelemetry.sdk", reason="the tracing part needs erlen-ops[tracing]")

PLUGINS = ["db", "forms", "auth", "migrate", "mail", "admin", "ops"]

#: What ``--help`` does not import (as in test_lazy_startup.NOT_IMPORTED_BY_HELP): the database layer, the models.
NOT_IMPORTED_BY_HELP = [
    "sqlalchemy",
    "wtforms",
    "alembic",
    "erlen_db.database",
    "erlen_auth.models",
    "erlen_admin.models",
    "erlen_mail.outbox.models",
]

#: What neither ``--help`` nor a command that serves no request imports, with metrics and tracing on: the
#: metrics and tracing libraries, imported when the app first serves a request or a command first uses them.
NOT_IMPORTED_UNTIL_USED = [
    "prometheus_client",
    "erlen_ops.metrics",
    "opentelemetry.sdk",
    "opentelemetry.sdk.trace",
    "opentelemetry.trace",
    "opentelemetry.instrumentation.flask",
    "opentelemetry.instrumentation.sqlalchemy",
    "opentelemetry.exporter.otlp.proto.http",
]


def _config(database: Path) -> dict[str, t.Any]:
    """Every setting of the app, metrics and tracing on (tracing to no exporter: spans are read in the test)."""
    return {
        "PLUGINS": PLUGINS,
        "DB_URL": f"sqlite:///{database}",
        "SECRET_KEY": "lazy-ops-secret-key-0123456789abcdef",
        "MAIL_BACKEND": "memory",
        "MAIL_DEFAULT_SENDER": "app@localhost",
        "OPS_METRICS": True,
        "OPS_TRACING": True,
        "OPS_TRACING_EXPORTER": "none",
    }


#: Runs ``erlen --app ops_cli_app ARGS...`` (the script's arguments) and prints the modules imported, the
#: environment's ``flask.commands`` entry points hidden (apiflask's imports SQLAlchemy) as in test_lazy_startup.
CLI_SCRIPT = (
    HIDE_FLASK_COMMANDS
    + """
import json, sys

from erlen.cli import cli

try:
    cli.main(["--app", "ops_cli_app", *sys.argv[1:]], prog_name="erlen")
except SystemExit as exc:
    print("exit", exc.code)
print(json.dumps(sorted(sys.modules)))
"""
)


def _run_cli(folder: Path, *args: str) -> tuple[list[str], list[str]]:
    """Run ``erlen --app ops_cli_app ARGS`` in a fresh interpreter in ``folder``: its output's lines and the
    modules it imported.

    :param folder: the test's folder, where the app's module and database go.
    :param args: the command's arguments.
    """
    config = _config(folder / "cli.sqlite3")
    app_module = f"import erlen\n\n\ndef create_app():\n    return erlen.create_app('ops_cli_app', {config!r})\n"
    (folder / "ops_cli_app.py").write_text(app_module, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ERLEN_", "FLASK_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(folder), env.get("PYTHONPATH", "")])
    shown = subprocess.run(
        [sys.executable, "-c", CLI_SCRIPT, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )
    *page, modules = shown.stdout.splitlines() or ["", "[]"]
    assert "exit 0" in page, shown.stderr
    return page, json.loads(modules)


def test_erlen_help_of_an_app_with_ops_sets_up_no_database(tmp_path: Path) -> None:
    """Nor imports prometheus-client or OpenTelemetry, with metrics and tracing on: they were imported (and the
    tracer provider made, the app instrumented) when the app was created, for a command listing the commands."""
    page, imported = _run_cli(tmp_path, "--help")
    assert "\n  db " in "\n".join(page)
    assert [name for name in NOT_IMPORTED_BY_HELP if name in imported] == []
    assert [name for name in NOT_IMPORTED_UNTIL_USED if name in imported] == []


def test_a_command_serving_no_request_imports_no_metrics_or_tracing(tmp_path: Path) -> None:
    """A command that runs (its app's set-up finished, the database's too) but serves no request: erlen routes."""
    page, imported = _run_cli(tmp_path, "routes")
    assert any("/readyz" in line or "static" in line for line in page), page
    assert "sqlalchemy" in imported  # the set-up was finished: the command has its database
    assert [name for name in NOT_IMPORTED_UNTIL_USED if name in imported] == []


#: Makes the app as the erlen command does (set-up deferred, then finished, as before `erlen run` serves), then
#: serves its first request: tracing to the console, which the test reads.
FIRST_REQUEST_SCRIPT = """
import json, sys

import erlen
import erlen_db

config = json.loads(sys.argv[1])
with erlen.deferring_setup():
    app = erlen.create_app("ops_first_request", config)
erlen.finish_setup(app)
erlen_db.database_of(app).create_all()
before = sorted(name for name in json.loads(sys.argv[2]) if name in sys.modules)


@app.route("/reset/<token>.json")
def reset(token):
    import sqlalchemy as sa

    erlen_db.session.execute(sa.text("SELECT 1"))
    return "reset"


client = app.test_client()
assert client.get("/reset/s3cr3t.json").status_code == 200
import erlen_ops

erlen_ops.state_of(app).tracing.provider.force_flush()
metrics = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).text
after = sorted(name for name in json.loads(sys.argv[2]) if name in sys.modules)
print("RESULT", json.dumps({"before": before, "after": after, "metrics": metrics}))
erlen.close_app(app)
"""


def test_an_app_the_command_made_sets_up_metrics_and_tracing_at_its_first_request(tmp_path: Path) -> None:
    """As `erlen run` serves: nothing imported before the first request, which is counted and traced (its SQL
    too), the route's secret hidden in its span."""
    config = {**_config(tmp_path / "first.sqlite3"), "OPS_TRACING_EXPORTER": "console"}
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ERLEN_", "FLASK_"))}
    shown = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST_SCRIPT, json.dumps(config), json.dumps(NOT_IMPORTED_UNTIL_USED)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    (result,) = [line for line in shown.stdout.splitlines() if line.startswith("RESULT ")]
    found = json.loads(result.removeprefix("RESULT "))
    spans = shown.stdout.replace(result, "")
    assert found["before"] == []
    assert {"prometheus_client", "opentelemetry.sdk", "opentelemetry.instrumentation.flask"} <= set(found["after"])
    assert (
        'erlen_http_request_duration_seconds_count{endpoint="reset",method="GET",status="200"} 1.0' in found["metrics"]
    )
    assert 'erlen_db_queries_per_request_sum{endpoint="reset"} 1.0' in found["metrics"]
    assert '"http.target": "/reset/***.json"' in spans
    assert '"name": "SELECT"' in spans or '"db.statement": "SELECT 1"' in spans
    assert "s3cr3t" not in spans


def test_an_app_with_ops_set_up_later_gets_its_metrics_checks_and_sql_spans(tmp_path: Path) -> None:
    """The app the erlen command made, its set-up finished (as before a command runs): readiness has every
    plugin's checks, each request's SQL is counted and traced, the outbox gauge is scraped."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import erlen_db
    import erlen_ops

    with erlen.deferring_setup():
        app = erlen.create_app("ops_later", _config(tmp_path / "later.sqlite3"))
    try:
        assert erlen.setup_deferred(app)
        assert app.test_client().get("/readyz").status_code == 503  # still starting: no checks yet
        erlen.finish_setup(app)
        erlen_db.database_of(app).create_all()
        tracing = erlen_ops.state_of(app).tracing
        assert tracing is not None
        spans = InMemorySpanExporter()
        tracing.provider.add_span_processor(SimpleSpanProcessor(spans))

        @app.route("/count")
        def count() -> str:
            import sqlalchemy as sa

            erlen_db.session.execute(sa.text("SELECT 1"))
            erlen_db.session.execute(sa.text("SELECT 2"))
            return "counted"

        client = app.test_client()
        assert client.get("/count").data == b"counted"
        assert any(span.name.startswith("SELECT") for span in spans.get_finished_spans())
        checks = client.get("/readyz").get_json()["checks"]
        assert {"db.database", "mail.outbox", "migrate.migrations"} <= set(checks)
        metrics = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).text
        assert 'erlen_db_queries_per_request_sum{endpoint="count"} 2.0' in metrics
        assert "erlen_mail_outbox_messages 0.0" in metrics
    finally:
        erlen.close_app(app)
