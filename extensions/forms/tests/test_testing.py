from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from erlen.testing import MakeApp
from erlen_forms.testing import CSRFClient, csrf_client_for, csrf_token_for


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    app = make_app(["forms"])

    @app.route("/change", methods=["POST", "PUT", "PATCH", "DELETE"])
    def change() -> str:
        return "changed"

    return app


def test_the_csrf_client_fixture_sends_tokens(csrf_client: CSRFClient) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert csrf_client.open("/change", method=method).status_code == 200
    assert csrf_client.post("/change", json={"a": 1}).status_code == 200


def test_the_csrf_client_can_leave_the_token_out(csrf_client: CSRFClient) -> None:
    assert csrf_client.post("/change", csrf=False).status_code == 400
    assert csrf_client.post("/change", headers={"X-CSRF-Token": "mine"}).status_code == 400


def test_csrf_client_for_keeps_the_apps_client_class(app: Flask) -> None:
    client = csrf_client_for(app)
    assert isinstance(client, CSRFClient)
    assert not isinstance(app.test_client(), CSRFClient)


def test_csrf_token_for_reuses_the_sessions_secret(client: t.Any) -> None:
    first, second = csrf_token_for(client), csrf_token_for(client)
    assert client.post("/change", data={"csrf_token": first}).status_code == 200
    assert client.post("/change", data={"csrf_token": second}).status_code == 200


def test_the_csrf_client_sends_tokens_with_unusual_methods(app: Flask) -> None:
    @app.route("/purge", methods=["PURGE"])
    def purge() -> str:
        return "purged"

    assert csrf_client_for(app).open("/purge", method="PURGE").status_code == 200
