from __future__ import annotations

import ssl
import typing as t
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from flask import Flask

from erlen_mail.testing import SMTPTestServer

pytest_plugins = ["pytester"]

SENDER = "Erlen <noreply@example.com>"


@pytest.fixture
def erlen_plugins() -> list[str]:
    return ["mail"]


@pytest.fixture
def erlen_config() -> dict[str, t.Any]:
    return {"MAIL_DEFAULT_SENDER": SENDER}


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def start_server() -> Iterator[Callable[..., SMTPTestServer]]:
    """Start SMTPTestServers with options; all are stopped after the test."""
    servers: list[SMTPTestServer] = []

    def start(**options: t.Any) -> SMTPTestServer:
        server = SMTPTestServer(**options)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_app(make_app: t.Any, smtp_server: SMTPTestServer) -> Flask:
    """An app that sends to the plain smtp_server."""
    return t.cast(Flask, make_app(["mail"], {"MAIL_DEFAULT_SENDER": SENDER, **smtp_server.config()}))


@pytest.fixture
def plugins_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path for plugin modules a test writes; they are unloaded after it."""
    import sys

    folder = tmp_path / "plugins"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    before = set(sys.modules)
    yield folder
    for name in set(sys.modules) - before:
        if getattr(sys.modules[name], "__file__", "") and str(folder) in str(sys.modules[name].__file__):
            del sys.modules[name]
