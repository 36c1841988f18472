"""``LOG_FORMAT = "json"``: one JSON object a line, with the request's id, plugin fields and secrets redacted."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import typing as t
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

import erlen
from erlen.logs import JsonFormatter, StderrHandler, json_logs

# What an app with JSON logs does to the root logger is undone after each test.
pytestmark = pytest.mark.usefixtures("restore_logging")


def lines_of(err: str) -> list[dict[str, object]]:
    """The JSON lines of captured standard error (each must be one)."""
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def json_app(config: dict[str, object] | None = None) -> Flask:
    app = erlen.create_app("jsonapp", {"LOG_FORMAT": "json", **(config or {})}, environ={})

    @app.route("/")
    def hello() -> str:
        logging.getLogger("jsonapp.views").info("hello from %s", "the view", extra={"event": "hello", "count": 3})
        return erlen.request_id() or ""

    return app


def test_text_by_default_leaves_logging_alone() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    app = erlen.create_app("textapp", {}, environ={})
    assert app.config["LOG_FORMAT"] == "text" and not json_logs(app)
    assert root.handlers == before


def test_a_line_has_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    app = json_app()
    capsys.readouterr()
    response = app.test_client().get("/", headers={"X-Request-ID": "req-42"})
    [line] = lines_of(capsys.readouterr().err)
    assert line.pop("time").endswith("Z")  # type: ignore[union-attr]
    assert line == {
        "level": "INFO",
        "logger": "jsonapp.views",
        "message": "hello from the view",
        "request_id": "req-42",
        "event": "hello",
        "count": 3,
    }
    assert response.text == "req-42"


def test_time_is_utc_iso_8601() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "m", (), None)
    record.created = 0.5
    assert json.loads(JsonFormatter().format(record))["time"] == "1970-01-01T00:00:00.500Z"


def test_the_plugin_whose_code_logged(
    noop_plugin: Callable[..., str], plugins: t.Any, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = noop_plugin(
        "shop",
        body="""
        import logging
        @erlen.hookimpl
        def erlen_init_app(app):
            logging.getLogger(__name__).warning("shop ready")
        """,
    )
    blog = plugins.module("myapp.plugins.blog", "import erlen\nPLUGIN = erlen.Plugin(name='blog')\n")
    erlen.create_app("jsonapp", {"LOG_FORMAT": "json", "PLUGINS": [shop, blog]}, environ={})
    logging.getLogger("erlen.anything").warning("core")
    logging.getLogger("myapp.plugins.blog.views").warning("in the local plugin")
    logging.getLogger("myapp.views").warning("the app's own")
    logging.getLogger("elsewhere").warning("named", extra={"plugin": "named"})
    lines = lines_of(capsys.readouterr().err)
    assert [(line["message"], line.get("plugin")) for line in lines] == [
        ("shop ready", "shop"),
        ("core", "erlen"),
        ("in the local plugin", "blog"),
        ("the app's own", None),
        ("named", "named"),
    ]


def test_exceptions_and_levels(capsys: pytest.CaptureFixture[str]) -> None:
    json_app({"LOG_LEVEL": "WARNING"})
    logger = logging.getLogger("jsonapp")
    logger.info("not shown")
    try:
        raise ValueError("boom with password=hunter22")
    except ValueError:
        logger.exception("failed")
    [line] = lines_of(capsys.readouterr().err)
    assert line["level"] == "ERROR" and line["message"] == "failed"
    assert "ValueError: boom with password=***" in line["exception"]  # type: ignore[operator]
    assert "hunter22" not in json.dumps(line)


def test_flask_app_logger_writes_once(capsys: pytest.CaptureFixture[str]) -> None:
    app = json_app()
    app.logger.warning("once")
    [line] = lines_of(capsys.readouterr().err)
    assert line["message"] == "once" and line["logger"] == "jsonapp"


def test_one_handler_for_the_last_app_configured() -> None:
    json_app()
    json_app()
    assert sum(isinstance(handler, StderrHandler) for handler in logging.getLogger().handlers) == 1


def test_the_setting_is_checked() -> None:
    with pytest.raises(erlen.SettingError, match="LOG_FORMAT"):
        erlen.create_app("jsonapp", {"LOG_FORMAT": "xml"}, environ={})


# --------------------------------------------------------------------------- secrets


def test_secrets_are_redacted(noop_plugin: Callable[..., str], capsys: pytest.CaptureFixture[str]) -> None:
    vault = noop_plugin(
        "vault",
        body="""
        @erlen.hookimpl
        def erlen_settings():
            return [erlen.Setting("TOKEN", str, secret=True), erlen.Setting("HOST", str, default="vault.local")]
        """,
    )
    json_app({"PLUGINS": [vault], "VAULT_TOKEN": "s.a8f3kq9zzlw", "SECRET_KEY": "the-long-secret-key-of-the-app"})
    logger = logging.getLogger("jsonapp")
    logger.warning("token %s in the text", "s.a8f3kq9zzlw")
    logger.warning("key %s", "the-long-secret-key-of-the-app")
    logger.warning("connecting to postgresql://notes:pg-pass@db.internal/notes and vault.local")
    logger.warning("GET /reset?token=abc123&next=/")
    logger.warning("Authorization: Bearer eyJhbGciOi.abc")
    logger.warning("headers {'Cookie': 'session=abc.def; theme=dark', 'Accept': '*/*'}")
    logger.warning(
        "login", extra={"password": "hunter22", "api_key": "k-123", "user": "ann", "url": "redis://:rpw@r/0"}
    )
    lines = lines_of(capsys.readouterr().err)
    assert [line["message"] for line in lines] == [
        "token *** in the text",
        "key ***",
        "connecting to postgresql://notes:***@db.internal/notes and vault.local",
        "GET /reset?token=***&next=/",
        "Authorization: Bearer ***",
        "headers {'Cookie': '***', 'Accept': '*/*'}",
        "login",
    ]
    assert {key: lines[-1][key] for key in ("password", "api_key", "user", "url")} == {
        "password": "***",
        "api_key": "***",
        "user": "ann",
        "url": "redis://:***@r/0",
    }


# --------------------------------------------------------------------------- erlen_log_fields


def test_plugins_add_fields_in_a_request(noop_plugin: Callable[..., str], capsys: pytest.CaptureFixture[str]) -> None:
    who = noop_plugin(
        "who",
        body="""
        import logging
        from flask import has_request_context, request
        @erlen.hookimpl
        def erlen_log_fields():
            logging.getLogger("who").warning("logged by the hook itself")  # no endless loop
            if has_request_context() and "X-User" in request.headers:
                return {"user_id": int(request.headers["X-User"]), "token": "t0k3n"}
            return None
        """,
    )
    app = json_app({"PLUGINS": [who]})
    capsys.readouterr()
    app.test_client().get("/", headers={"X-User": "7"})
    lines = lines_of(capsys.readouterr().err)
    view_line = next(line for line in lines if line["logger"] == "jsonapp.views")
    assert view_line["user_id"] == 7 and view_line["token"] == "***"
    hook_line = next(line for line in lines if line["logger"] == "who")
    assert "user_id" not in hook_line
    app.test_client().get("/")
    assert all("user_id" not in line for line in lines_of(capsys.readouterr().err))


def test_a_failing_fields_hook_keeps_the_line(
    noop_plugin: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = noop_plugin(
        "broken",
        body="""
        @erlen.hookimpl
        def erlen_log_fields():
            raise RuntimeError("bug")
        """,
    )
    app = json_app({"PLUGINS": [broken]})
    capsys.readouterr()
    app.test_client().get("/")
    [line] = lines_of(capsys.readouterr().err)
    assert line["message"] == "hello from the view"
    assert "RuntimeError" in line["log_fields_error"]  # type: ignore[operator]


# --------------------------------------------------------------------------- commands


def test_commands_log_json_lines(tmp_path: Path) -> None:
    """``erlen`` commands build the app, so their logs are JSON lines too (ERLEN_LOG_FORMAT in the environment)."""
    (tmp_path / "cliapp.py").write_text(
        textwrap.dedent(
            """
            import logging
            import click
            import erlen

            app = erlen.create_app(__name__)

            @app.cli.command("work")
            def work():
                logging.getLogger("cliapp.jobs").info("job done", extra={"event": "job.done", "jobs": 2})
                click.echo("printed")
            """
        )
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ERLEN_", "FLASK_"))}
    env.update(ERLEN_LOG_FORMAT="json", ERLEN_SECRET_KEY="cli-secret-key-value", PYTHONPATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "erlen", "--app", "cliapp", "work"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "printed\n"
    [line] = lines_of(result.stderr)
    assert {key: line[key] for key in ("level", "logger", "message", "event", "jobs")} == {
        "level": "INFO",
        "logger": "cliapp.jobs",
        "message": "job done",
        "event": "job.done",
        "jobs": 2,
    }
