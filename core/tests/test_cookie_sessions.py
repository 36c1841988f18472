"""The session cookie's serializer and derived keys are made once per key; the cookies stay Flask's own."""

from __future__ import annotations

import typing as t

import flask
import pytest
from flask.sessions import SecureCookieSessionInterface

import erlen
from erlen.cookie_sessions import COMPRESS_FROM, CookieSessionInterface

KEY = "a-long-random-secret-key-for-the-session-tests-0123456789"
OLD_KEY = "the-previous-secret-key-for-the-session-tests-9876543210"


def make_app(**config: object) -> flask.Flask:
    app = erlen.create_app(__name__, {"SECRET_KEY": KEY, **config}, environ={})

    @app.get("/set/<value>")
    def set_value(value: str) -> str:
        flask.session["value"] = value
        return "set"

    @app.get("/get")
    def get_value() -> str:
        return flask.session.get("value", "none")

    return app


def test_the_serializer_is_made_once_per_key() -> None:
    app = make_app()
    interface = app.session_interface
    assert isinstance(interface, CookieSessionInterface)
    first = interface.get_signing_serializer(app)
    assert first is not None and interface.get_signing_serializer(app) is first
    app.config["SECRET_KEY"] = OLD_KEY
    assert interface.get_signing_serializer(app) is not first


def test_cookies_are_flasks_own_both_ways() -> None:
    app = make_app()
    client = app.test_client()
    client.get("/set/hello")
    cookie = client.get_cookie("session")
    assert cookie is not None
    plain = flask.Flask(__name__)
    plain.secret_key = KEY
    flasks = SecureCookieSessionInterface().get_signing_serializer(plain)
    assert flasks is not None and flasks.loads(cookie.value) == {"value": "hello"}
    other = app.test_client()
    other.set_cookie("session", flasks.dumps({"value": "from flask"}))
    assert other.get("/get").text == "from flask"


def flasks_serializer() -> t.Any:
    plain = flask.Flask(__name__)
    plain.secret_key = KEY
    serializer = SecureCookieSessionInterface().get_signing_serializer(plain)
    assert serializer is not None
    return serializer


@pytest.mark.parametrize("value", ["a" * 500, "ab" * 60, "0123456789abcdef" * 20])
def test_a_session_shorter_than_compress_from_is_never_compressed(value: str) -> None:
    """Flask compresses a session whenever zlib saves a byte (its cookie then starts with "."), and every request
    inflated it: a logged-in session (random keys) did, or did not, by the luck of its values."""
    app = make_app()
    client = app.test_client()
    client.get(f"/set/{value}")
    cookie = client.get_cookie("session")
    assert cookie is not None and not cookie.value.startswith(".")
    assert flasks_serializer().loads(cookie.value) == {"value": value}  # Flask reads it
    assert flasks_serializer().dumps({"value": value}).startswith(".")  # where Flask compresses it
    assert client.get("/get").text == value


def test_a_long_session_is_compressed_as_flask_does_and_compressed_cookies_are_read() -> None:
    value = "repeated text " * (COMPRESS_FROM // 10)
    app = make_app()
    client = app.test_client()
    client.get(f"/set/{value}")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.value.startswith(".") and len(cookie.value) < COMPRESS_FROM
    assert flasks_serializer().loads(cookie.value) == {"value": value}
    other = app.test_client()
    other.set_cookie("session", flasks_serializer().dumps({"value": "a" * 200}))  # compressed by Flask, short
    assert other.get("/get").text == "a" * 200


def test_a_changed_key_refuses_old_cookies_unless_it_is_a_fallback() -> None:
    app = make_app(SECRET_KEY=OLD_KEY)
    client = app.test_client()
    client.get("/set/kept")
    assert client.get("/get").text == "kept"
    app.config["SECRET_KEY"] = KEY
    assert client.get("/get").text == "none"
    app.config["SECRET_KEY_FALLBACKS"] = [OLD_KEY]
    assert client.get("/get").text == "kept"


def test_an_app_with_its_own_session_interface_keeps_it() -> None:
    class Own(SecureCookieSessionInterface):
        pass

    app = flask.Flask(__name__)
    app.session_interface = Own()
    erlen.Erlen(app, config={"SECRET_KEY": KEY}, environ={})
    assert type(app.session_interface) is Own


def _cookie_headers(app: flask.Flask, client: object, path: str) -> tuple[list[str], str | None]:
    response = client.get(path)  # type: ignore[attr-defined]
    return sorted(response.headers.getlist("Set-Cookie")), response.headers.get("Vary")


def _without_clock(cookie: str) -> str:
    name, _, attributes = cookie.partition("=")
    kept = [a for a in attributes.split("; ")[1:] if not a.startswith("Expires=")]
    return "; ".join([name, *kept])


def test_responses_set_cookies_and_vary_exactly_as_flasks_interface() -> None:
    """Saving skips Flask's cookie settings when nothing is set, and answers the same headers in every case."""
    answers = {}
    for interface in (CookieSessionInterface, SecureCookieSessionInterface):
        app = make_app(SESSION_REFRESH_EACH_REQUEST=True)
        app.session_interface = interface()

        @app.get("/permanent")
        def permanent() -> str:
            flask.session.permanent = True
            flask.session["value"] = "kept"
            return "permanent"

        @app.get("/clear")
        def clear() -> str:
            flask.session.clear()
            return "cleared"

        @app.get("/untouched")
        def untouched() -> str:
            return "untouched"

        @app.get("/get-varying")
        def get_varying() -> flask.Response:
            response = flask.make_response(str(flask.session.get("value", "none")))
            response.vary.add("Accept-Encoding")
            return response

        client = app.test_client()
        steps = ["/untouched", "/get", "/set/a", "/get", "/untouched", "/permanent", "/get", "/clear", "/get"]
        steps.append("/get-varying")
        seen = []
        for path in steps:
            cookies, vary = _cookie_headers(app, client, path)
            # A cookie's value and expiry move with the clock: its name and other attributes are compared.
            seen.append((path, [_without_clock(cookie) for cookie in cookies], vary))
        answers[interface] = seen
    assert answers[CookieSessionInterface] == answers[SecureCookieSessionInterface]
    by_path = dict(((p, i), (c, v)) for i, (p, c, v) in enumerate(answers[CookieSessionInterface]))
    assert by_path["/untouched", 0] == ([], None)  # no session read: neither cookie nor Vary
    assert by_path["/get", 1] == ([], "Cookie")  # read, unchanged: Vary only
    assert by_path["/get", 6][0]  # permanent and refreshed each request: set again on a read
    assert by_path["/get-varying", 9] == ([], "Accept-Encoding, Cookie")  # the response's own Vary kept
