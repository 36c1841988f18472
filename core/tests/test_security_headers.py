"""``SECURITY_HEADERS``: headers every response gets, which views, blueprints and the app can override."""

from __future__ import annotations

import typing as t

import pytest
from flask import Blueprint, abort

import erlen
from erlen.builtin import RECOMMENDED_SECURITY_HEADERS
from erlen.checks import run_checks
from erlen.errors import SettingError


def test_none_by_default_and_the_deploy_check_recommends_them() -> None:
    app = erlen.create_app(__name__, environ={})
    # Nothing but the watch for forwarded headers, which takes itself out after the first requests (erlen.proxies).
    assert app.wsgi_app.wsgi_app == app.__class__.wsgi_app.__get__(app)  # type: ignore[attr-defined]
    response = app.test_client().get("/missing")
    assert not {"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} & set(response.headers.keys())
    (advice,) = [message for message in run_checks(app, deploy=True) if message.id == "erlen.W003"]
    assert "ERLEN_SECURITY_HEADERS=" in advice.hint and "nosniff" in advice.hint
    configured = erlen.create_app(__name__, {"SECURITY_HEADERS": RECOMMENDED_SECURITY_HEADERS}, environ={})
    assert "erlen.W003" not in [message.id for message in run_checks(configured, deploy=True)]


def test_every_response_gets_the_headers_even_errors() -> None:
    app = erlen.create_app(__name__, {"SECURITY_HEADERS": RECOMMENDED_SECURITY_HEADERS}, environ={})

    @app.get("/")
    def index() -> str:
        return "hello"

    @app.get("/boom")
    def boom() -> str:
        abort(400)

    client = app.test_client()
    for path, status in (("/", 200), ("/boom", 400), ("/missing", 404)):
        response = client.get(path)
        assert response.status_code == status
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_a_view_a_blueprint_or_the_app_overrides_a_header() -> None:
    app = erlen.create_app(__name__, {"SECURITY_HEADERS": RECOMMENDED_SECURITY_HEADERS}, environ={})
    pages = Blueprint("pages", __name__)

    @pages.get("/embeddable")
    def embeddable() -> str:
        return "frame me"

    @pages.after_request
    def allow_framing(response: t.Any) -> t.Any:
        response.headers["X-Frame-Options"] = "ALLOWALL"
        return response

    app.register_blueprint(pages)

    @app.get("/own")
    def own() -> tuple[str, dict[str, str]]:
        return "own", {"Referrer-Policy": "no-referrer"}

    @app.after_request
    def app_wide(response: t.Any) -> t.Any:
        response.headers.setdefault("X-Content-Type-Options", "app-value")
        return response

    client = app.test_client()
    assert client.get("/embeddable").headers["X-Frame-Options"] == "ALLOWALL"
    assert client.get("/own").headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/own").headers["X-Content-Type-Options"] == "app-value"


def test_only_the_configured_headers_are_sent_and_an_empty_value_drops_one() -> None:
    app = erlen.create_app(
        __name__,
        {"SECURITY_HEADERS": {"X-Frame-Options": "", "Strict-Transport-Security": "max-age=63072000"}},
        environ={},
    )
    response = app.test_client().get("/missing")
    assert "X-Frame-Options" not in response.headers
    assert "X-Content-Type-Options" not in response.headers
    assert response.headers["Strict-Transport-Security"] == "max-age=63072000"


def test_the_setting_is_read_from_the_environment_as_json() -> None:
    app = erlen.create_app(__name__, environ={"ERLEN_SECURITY_HEADERS": '{"X-Frame-Options": "DENY"}'})
    assert app.test_client().get("/missing").headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("headers", "named"),
    [({"X-Frame-Options": "DENY\r\nSet-Cookie: a=b"}, "X-Frame-Options"), ({"Bad Name": "x"}, "'Bad Name'")],
)
def test_a_header_that_would_break_every_response_stops_the_app_at_startup(headers: dict[str, str], named: str) -> None:
    with pytest.raises(SettingError) as raised:
        erlen.create_app(__name__, {"SECURITY_HEADERS": headers}, environ={})
    assert "SECURITY_HEADERS" in str(raised.value) and named in str(raised.value)
