"""gunicorn's error and access logs as JSON lines, with ``logconfig_dict = erlen.gunicorn_logconfig()``."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import typing as t
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import erlen
from erlen.gunicorn_logs import GunicornAccessFormatter
from erlen.testing import free_port

pytest.importorskip("gunicorn", reason="the test runs gunicorn")

APP = """
import logging

import erlen

app = erlen.create_app(
    "gunicornjson",
    {"LOG_FORMAT": "json", "SECRET_KEY": "a-secret-key-for-the-gunicorn-log-test-0123456789"},
    environ={},
)


@app.route("/hello")
def hello():
    logging.getLogger("gunicornjson.views").info("hello", extra={"event": "hello"})
    return erlen.request_id() or ""
"""

#: As docs/deployment.rst shows it.
CONFIG = """
import erlen

logconfig_dict = erlen.gunicorn_logconfig()
"""


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[str, str | None]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return t.cast(bytes, response.read()).decode(), response.headers.get("X-Request-ID")


def _serve(tmp_path: Path) -> tuple[list[dict[str, t.Any]], str, dict[str, str]]:
    """Start gunicorn (two workers) on the app, make two requests, stop it: its standard error's JSON
    lines, its standard output, and the request ids the responses carried by the request's name."""
    (tmp_path / "gunicornjson.py").write_text(textwrap.dedent(APP))
    (tmp_path / "gunicorn.conf.py").write_text(textwrap.dedent(CONFIG))
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
        "--config", str(tmp_path / "gunicorn.conf.py"), "--chdir", str(tmp_path), "gunicornjson:app",
    ]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if not key.startswith("ERLEN_")}
    err, out = tmp_path / "stderr.log", tmp_path / "stdout.log"
    with err.open("wb") as err_file, out.open("wb") as out_file:
        server = subprocess.Popen(command, env=env, stdout=out_file, stderr=err_file)
    ids: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise AssertionError(f"gunicorn exited: {err.read_text()}")
            try:
                body, given = _get(f"http://127.0.0.1:{port}/hello", {"X-Request-ID": "given-id-1"})
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"gunicorn did not answer within 60 seconds: {err.read_text()}") from None
                time.sleep(0.2)
        assert body == given == "given-id-1"
        body, made = _get(f"http://127.0.0.1:{port}/hello?token=s3cr3t-token-value")
        assert made is not None and body == made
        ids = {"given": given, "made": made}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    lines = [json.loads(line) for line in err.read_text().splitlines() if line.strip()]
    return lines, out.read_text(), ids


def test_gunicorn_writes_its_error_and_access_logs_as_json_lines(tmp_path: Path) -> None:
    lines, out, ids = _serve(tmp_path)
    assert out == ""  # every line on standard error, every one JSON (json.loads above)
    error_messages = [line["message"] for line in lines if line["logger"] == "gunicorn.error"]
    # The arbiter's (before any app), the workers' (before and after building the app) and the shutdown's.
    assert any(message.startswith("Starting gunicorn") for message in error_messages), error_messages
    assert sum(message.startswith("Booting worker") for message in error_messages) == 2, error_messages
    assert any(message.startswith("Handling signal") for message in error_messages), error_messages
    assert sum(message.startswith("Worker exiting") for message in error_messages) == 2, error_messages
    for line in lines:
        assert set(line) >= {"time", "level", "logger", "message"}, line

    # By request id, not by position: two workers write their lines to one stream, and the second request's
    # worker may write its line before the first request's worker has written its own.
    access = {line["request_id"]: line for line in lines if line["logger"] == "gunicorn.access"}
    assert sorted(access) == sorted(ids.values()), access
    first, second = access[ids["given"]], access[ids["made"]]
    assert first["method"] == "GET" and first["path"] == "/hello" and first["status"] == 200, first
    assert first["remote_addr"] == "127.0.0.1" and first["protocol"] == "HTTP/1.1", first
    assert isinstance(first["duration"], float) and first["response_bytes"] == len(ids["given"]), first
    assert "query" not in first and first["level"] == "INFO", first
    # A credential in the query string is redacted in the field and in gunicorn's own text (the message).
    assert second["query"] == "token=***", second
    assert "s3cr3t" not in json.dumps(second) and "GET /hello?token=***" in second["message"], second

    # The app's line of the same request carries the same id: the access line joins it.
    views = [line for line in lines if line["logger"] == "gunicornjson.views"]
    assert sorted(line["request_id"] for line in views) == sorted(ids.values()), views


def test_the_configuration_is_gunicorns_dict_config() -> None:
    config = erlen.gunicorn_logconfig("WARNING")
    assert config["root"]["level"] == "WARNING"
    # gunicorn's --log-level keeps setting gunicorn.error's level: the dictionary sets none.
    assert "level" not in config["loggers"]["gunicorn.error"]
    assert config["loggers"]["gunicorn.access"]["propagate"] is False


def test_a_record_that_is_not_an_access_record_is_an_ordinary_line() -> None:
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "plain %s", ("text",), None)
    line = json.loads(GunicornAccessFormatter().format(record))
    assert line["message"] == "plain text" and "status" not in line
