"""A request body the server cannot read (malformed chunks) is a 400 naming the problem, never a 500."""

from __future__ import annotations

import io
import logging
import textwrap
import typing as t
from pathlib import Path

import pytest
from flask import request

from erlen.testing import exchange_raw, gunicorn_serving

SECRET = {"SECRET_KEY": "a-secret-key-for-the-request-body-tests-0123456789"}


class _ServerChunkError(Exception):
    """What gunicorn's InvalidChunkSize is: an Exception of the server's own, not an OSError."""


class _MalformedChunks(io.RawIOBase):
    """A ``wsgi.input`` that fails as a server decoding malformed chunks fails."""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise _ServerChunkError("Invalid chunk size: 'zz'")

    readline = read


def _form_app(make_app: t.Any) -> t.Any:
    app = make_app([], SECRET)

    @app.post("/echo")
    def echo() -> str:
        return request.form.get("name", "")

    return app


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_a_form_whose_chunked_body_cannot_be_read_is_a_400(make_app: t.Any, content_type: str, caplog: t.Any) -> None:
    caplog.set_level(logging.INFO, logger="erlen.request_bodies")
    client = _form_app(make_app).test_client()
    response = client.post(
        "/echo",
        headers={"Content-Type": content_type, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": _MalformedChunks(), "wsgi.input_terminated": True},
    )
    assert response.status_code == 400
    assert "its chunked transfer coding is malformed" in response.text
    assert "Invalid chunk size: 'zz'" in caplog.text  # the server's words are logged for the operator


def test_a_view_reading_the_raw_body_gets_the_400_too(make_app: t.Any) -> None:
    app = make_app([], SECRET)

    @app.post("/raw")
    def raw() -> str:
        return str(len(request.get_data()))

    response = app.test_client().post(
        "/raw",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": _MalformedChunks(), "wsgi.input_terminated": True},
    )
    assert response.status_code == 400


def test_an_apps_own_request_class_is_kept(make_app: t.Any) -> None:
    from flask import Flask, Request

    import erlen
    from erlen.request_bodies import GuardedRequest

    assert make_app([], SECRET).request_class is GuardedRequest

    class OwnRequest(Request):
        pass

    flask_app = Flask(__name__)
    flask_app.request_class = OwnRequest
    erlen.Erlen(flask_app, config=SECRET, environ={})
    assert flask_app.request_class is OwnRequest


def test_bodies_that_read_well_are_untouched(make_app: t.Any) -> None:
    client = _form_app(make_app).test_client()
    assert client.post("/echo", data={"name": "Ada"}).text == "Ada"
    chunked = client.post(
        "/echo",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": io.BytesIO(b"name=Grace"), "wsgi.input_terminated": True},
    )
    assert chunked.text == "Grace"


APP = """
import erlen
from flask import request

app = erlen.create_app("chunked", {"SECRET_KEY": "a-secret-key-for-the-request-body-tests-0123456789"})


@app.post("/echo")
def echo():
    return request.form.get("name", "")
"""


def test_malformed_chunks_under_gunicorn_are_a_400(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn", reason="the test serves the app with gunicorn (pip install gunicorn)")
    (tmp_path / "chunked_app.py").write_text(textwrap.dedent(APP))
    head = (
        b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    log = tmp_path / "gunicorn.log"
    with gunicorn_serving("chunked_app:app", chdir=tmp_path, log=log) as port:
        assert exchange_raw(port, head + b"8\r\nname=Ada\r\n0\r\n\r\n") == (200, b"Ada")  # valid chunks are read
        for chunks in (b"zz\r\nname=Ada\r\n0\r\n\r\n", b"8\r\nname=AdaXX0\r\n\r\n"):
            status, body = exchange_raw(port, head + chunks)
            assert status == 400, body
            assert b"its chunked transfer coding is malformed" in body
    assert "Traceback" not in log.read_text()
