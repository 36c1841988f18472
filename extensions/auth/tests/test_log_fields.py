"""erlen-auth's ``user_id`` in JSON log lines (``erlen_log_fields``): the user the request loaded, never loaded."""

from __future__ import annotations

import json
import logging
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask

import erlen
from erlen_auth.testing import login_as, make_user

AuthApp = t.Callable[..., Flask]


# What an app with JSON logs does to the root logger is undone after each test.
pytestmark = pytest.mark.usefixtures("restore_logging")


def view_lines(err: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "notes.views"]


def test_user_id_of_the_logged_in_user(auth_app: AuthApp, capsys: pytest.CaptureFixture[str]) -> None:
    app = auth_app(config={"LOG_FORMAT": "json"}, create_all=True)

    @app.get("/who")
    def who() -> str:
        from erlen_auth import current_user

        logger = logging.getLogger("notes.views")
        logger.info("before loading the user")  # the log line loads nobody
        name = str(current_user.email) if current_user.is_authenticated else "anonymous"
        logger.info("after", extra={"event": "notes.who"})
        return name

    user = make_user(app, "ann@example.com")
    with app.app_context():
        user_id = sa.inspect(user).identity[0]
    client = app.test_client()
    capsys.readouterr()
    assert client.get("/who").text == "anonymous"
    anonymous = view_lines(capsys.readouterr().err)
    assert [line["message"] for line in anonymous] == ["before loading the user", "after"]
    assert all("user_id" not in line for line in anonymous)

    login_as(client, user)
    capsys.readouterr()
    response = client.get("/who", headers={"X-Request-ID": "who-1"})
    assert response.text == "ann@example.com" and response.headers["X-Request-ID"] == "who-1"
    before, after = view_lines(capsys.readouterr().err)
    assert "user_id" not in before  # not loaded yet: the hook loads no one
    assert after["user_id"] == user_id and after["request_id"] == "who-1" and after["event"] == "notes.who"


def test_no_user_outside_requests(auth_app: AuthApp, capsys: pytest.CaptureFixture[str]) -> None:
    app = auth_app(config={"LOG_FORMAT": "json"})
    with app.app_context():
        logging.getLogger("notes.views").warning("from a command")
    [line] = view_lines(capsys.readouterr().err)
    assert "user_id" not in line and line["message"] == "from a command"
    assert erlen.request_id() is None
