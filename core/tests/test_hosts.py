"""``TRUSTED_HOSTS`` checks the port too: a request naming a port the app is not served on gets a 400."""

from __future__ import annotations

import pytest
from flask import Flask, url_for

import erlen
from erlen.errors import SettingError
from erlen.hosts import check_request_host, host_is_allowed, parse_trusted_host


def make(config: dict[str, object] | None = None, **environ: str) -> Flask:
    app = erlen.create_app(__name__, config, environ=environ)

    @app.get("/link")
    def link() -> str:
        return url_for("link", _external=True)

    return app


def status(app: Flask, base_url: str, **kwargs: object) -> int:
    return app.test_client().get("/link", base_url=base_url, **kwargs).status_code  # type: ignore[arg-type]


def test_a_host_entry_without_a_port_allows_the_default_port_of_the_scheme_only() -> None:
    app = make({"TRUSTED_HOSTS": ["notes.example.com"]})
    assert app.test_client().get("/link", base_url="http://notes.example.com").text == "http://notes.example.com/link"
    assert status(app, "http://notes.example.com:80") == 200
    assert status(app, "https://notes.example.com") == 200
    assert status(app, "https://notes.example.com:443") == 200
    for poisoned in ("http://notes.example.com:666", "https://notes.example.com:666", "http://notes.example.com:443",
                     "https://notes.example.com:80", "http://evil.example"):  # fmt: skip
        assert status(app, poisoned) == 400, poisoned


def test_an_entry_with_a_port_allows_that_port() -> None:
    app = make({"TRUSTED_HOSTS": ["notes.example.com:8443", "localhost"]})
    answer = app.test_client().get("/link", base_url="https://notes.example.com:8443")
    assert answer.status_code == 200 and answer.text == "https://notes.example.com:8443/link"
    assert status(app, "https://notes.example.com") == 400
    assert status(app, "https://notes.example.com:8444") == 400
    assert status(app, "http://localhost") == 200
    assert status(app, "http://localhost:5000") == 400


def test_subdomain_and_address_entries() -> None:
    app = make({"TRUSTED_HOSTS": [".example.com", "127.0.0.1:8000"]})
    assert status(app, "http://notes.example.com") == 200
    assert status(app, "http://notes.example.com:666") == 400
    assert status(app, "http://127.0.0.1:8000") == 200
    assert status(app, "http://127.0.0.1") == 400


def test_a_bad_entry_stops_the_app_naming_the_setting() -> None:
    for bad in (
        "notes.example.com:0",
        "notes.example.com:70000",
        "https://notes.example.com",
        "",
        "a b",
        "x:y",
        "[::1]",
    ):
        with pytest.raises(SettingError, match="TRUSTED_HOSTS"):
            make({"TRUSTED_HOSTS": [bad]})


def test_the_environment_sets_it_as_json_or_a_comma_list() -> None:
    assert make(ERLEN_TRUSTED_HOSTS='["notes.example.com"]').config["TRUSTED_HOSTS"] == ["notes.example.com"]
    app = make(ERLEN_TRUSTED_HOSTS="notes.example.com:8443, localhost")
    assert app.config["TRUSTED_HOSTS"] == ["notes.example.com:8443", "localhost"]
    assert status(app, "https://notes.example.com:8443") == 200


def test_unset_every_host_is_answered_and_no_check_runs() -> None:
    app = make()
    assert status(app, "http://anything.example:666") == 200
    assert check_request_host not in app.before_request_funcs.get(None, [])


def test_the_check_runs_before_the_other_request_hooks() -> None:
    app = Flask(__name__)
    ran: list[str] = []
    app.before_request(lambda: ran.append("the app's own") and None)
    erlen.Erlen(app, config={"TRUSTED_HOSTS": ["localhost"]}, environ={})
    assert app.before_request_funcs[None][0] is check_request_host
    assert app.test_client().get("/", base_url="http://localhost:666").status_code == 400
    assert ran == []


def test_host_is_allowed() -> None:
    assert host_is_allowed("Notes.Example.com", "http", ["notes.example.com"])
    assert host_is_allowed("notes.example.com:8080", "http", ["notes.example.com:8080"])
    assert not host_is_allowed("notes.example.com:8080", "http", ["notes.example.com"])
    assert parse_trusted_host(".Example.com:8443").subdomains
    assert parse_trusted_host("bücher.example").name == "xn--bcher-kva.example"
