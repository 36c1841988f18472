"""``TRUSTED_PROXY_HOPS``: the client's address, scheme and host behind reverse proxies; a watch when it is 0."""

from __future__ import annotations

import logging

import pytest
from flask import Flask, request, url_for

import erlen
from erlen import proxies
from erlen.checks import run_checks
from erlen.errors import SettingError

#: What one nginx in front of the app adds: the client's address, its scheme and the host it asked for.
FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "notes.example.com",
}
#: The proxy's own address, as the app sees the connection.
PROXY = {"REMOTE_ADDR": "10.0.0.2"}


def make(config: dict[str, object] | None = None, **environ: str) -> Flask:
    app = erlen.create_app(__name__, config, environ=environ)

    @app.get("/where")
    def where() -> dict[str, object]:
        return {
            "remote_addr": request.remote_addr,
            "scheme": request.scheme,
            "is_secure": request.is_secure,
            "link": url_for("where", _external=True),
        }

    return app


def test_with_one_hop_the_app_sees_the_client_https_and_the_public_host() -> None:
    app = make({"TRUSTED_PROXY_HOPS": 1})
    seen = app.test_client().get("/where", headers=FORWARDED, environ_base=PROXY).json
    assert seen == {
        "remote_addr": "203.0.113.7",
        "scheme": "https",
        "is_secure": True,
        "link": "https://notes.example.com/where",
    }


def test_only_the_trusted_hops_are_believed() -> None:
    app = make({"TRUSTED_PROXY_HOPS": 1})
    # A client sending its own X-Forwarded-For: the proxy appends the address it saw, the one that counts.
    spoofed = {**FORWARDED, "X-Forwarded-For": "1.2.3.4, 203.0.113.7"}
    assert app.test_client().get("/where", headers=spoofed, environ_base=PROXY).json["remote_addr"] == "203.0.113.7"
    two = make({"TRUSTED_PROXY_HOPS": 2})
    chained = {"X-Forwarded-For": "1.2.3.4, 203.0.113.7, 10.0.0.9", "X-Forwarded-Proto": "https, http"}
    seen = two.test_client().get("/where", headers=chained, environ_base=PROXY).json
    assert seen["remote_addr"] == "203.0.113.7" and seen["scheme"] == "https"


def test_the_prefix_and_port_are_forwarded_too() -> None:
    app = make({"TRUSTED_PROXY_HOPS": 1})
    headers = {**FORWARDED, "X-Forwarded-Port": "8443", "X-Forwarded-Prefix": "/notes"}
    assert app.test_client().get("/where", headers=headers).json["link"] == "https://notes.example.com:8443/notes/where"


def test_the_setting_comes_from_the_environment_and_is_validated() -> None:
    app = make(ERLEN_TRUSTED_PROXY_HOPS="1")
    assert app.config["TRUSTED_PROXY_HOPS"] == 1
    assert app.test_client().get("/where", headers=FORWARDED).json["scheme"] == "https"
    with pytest.raises(SettingError, match="TRUSTED_PROXY_HOPS"):
        make({"TRUSTED_PROXY_HOPS": -1})


def test_with_no_hops_the_headers_are_ignored_and_the_first_one_is_logged_once(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="erlen.proxies")
    app = make()
    client = app.test_client()
    for _ in range(3):
        seen = client.get("/where", headers=FORWARDED, environ_base=PROXY).json
        assert seen == {
            "remote_addr": "10.0.0.2",
            "scheme": "http",
            "is_secure": False,
            "link": "http://localhost/where",
        }
    [record] = [record for record in caplog.records if record.name == "erlen.proxies"]
    assert "X-Forwarded-For" in record.getMessage() and "ERLEN_TRUSTED_PROXY_HOPS" in record.getMessage()
    # Noted, the watch has taken itself out: later requests go straight to Flask.
    assert app.wsgi_app == Flask.wsgi_app.__get__(app)
    [warning] = [message for message in run_checks(app, deploy=True) if message.id == "erlen.W004"]
    assert "X-Forwarded-For" in warning.message and "10.0.0.2" in warning.message
    assert "ERLEN_TRUSTED_PROXY_HOPS" in warning.hint
    assert "erlen.I001" not in [message.id for message in run_checks(app, deploy=True)]


def test_with_no_hops_and_no_forwarded_headers_the_watch_ends_after_the_first_requests(monkeypatch, caplog) -> None:
    monkeypatch.setattr(proxies, "WATCHED_REQUESTS", 3)
    app = make()
    assert app.wsgi_app != Flask.wsgi_app.__get__(app)  # watching
    client = app.test_client()
    for _ in range(3):
        assert client.get("/where").status_code == 200
    assert app.wsgi_app == Flask.wsgi_app.__get__(app)  # nothing wraps the app any more: no cost per request
    assert client.get("/where", headers=FORWARDED).json["scheme"] == "http"  # ignored, and no longer watched
    assert not [record for record in caplog.records if record.name == "erlen.proxies"]
    ids = [message.id for message in run_checks(app, deploy=True)]
    assert "erlen.I001" in ids and "erlen.W004" not in ids
    assert "erlen.I001" not in [message.id for message in run_checks(app)]  # a deployment matter


def test_with_hops_the_check_says_nothing_of_proxies() -> None:
    ids = [message.id for message in run_checks(make({"TRUSTED_PROXY_HOPS": 1}), deploy=True)]
    assert "erlen.I001" not in ids and "erlen.W004" not in ids


def test_the_proxy_fix_wraps_the_middleware_plugins_add(plugins) -> None:
    plugins.module(
        "wrapping_plugin",
        """
        import erlen

        @erlen.hookimpl
        def erlen_app_ready(app):
            inner = app.wsgi_app

            def record_scheme(environ, start_response):
                app.config["SEEN_SCHEME"] = environ["wsgi.url_scheme"]
                return inner(environ, start_response)

            app.wsgi_app = record_scheme
        """,
    )
    app = make({"PLUGINS": ["wrapping_plugin"], "TRUSTED_PROXY_HOPS": 1})
    app.test_client().get("/where", headers=FORWARDED)
    assert app.config["SEEN_SCHEME"] == "https"
