"""Every state-changing route of every installed plugin refuses requests without a CSRF token."""

from __future__ import annotations

import typing as t

import pytest
from flask import Blueprint, Flask

import erlen
from erlen.plugins.discovery import installed_plugins
from erlen.testing import MakeApp
from erlen_forms.testing import assert_csrf_protected, build_path, csrf_client_for, unprotected_routes, walk_routes

#: Settings installed plugins need to start in a test; plugins that still cannot start are left out, with the reason.
PLUGIN_CONFIG: dict[str, t.Any] = {"DB_URL": "sqlite://"}


def every_installed_plugin_app(make_app: MakeApp) -> tuple[Flask, dict[str, str]]:
    """An app with every installed plugin enabled, plus the test plugin with blueprints and app routes."""
    plugins = sorted(installed_plugins())
    left_out: dict[str, str] = {}
    while True:
        try:
            app = make_app([*plugins, "forms_sample_plugin"], PLUGIN_CONFIG)
            return app, left_out
        except erlen.ErlenError as exc:
            culprit = getattr(exc, "plugin", None)
            if culprit not in plugins or culprit == "forms":
                raise
            plugins.remove(culprit)
            left_out[culprit] = str(exc)


def add_app_routes(app: Flask) -> None:
    """Routes an application module adds after create_app returns, of every shape."""

    @app.route("/late/<int:number>/<uuid:key>/<path:rest>", methods=["POST", "PUT"])
    def late(number: int, key: t.Any, rest: str) -> str:
        return "changed"

    @app.route("/late/<any(a, b):choice>/<float:amount>", methods=["PATCH", "DELETE"])
    def choice(choice: str, amount: float) -> str:
        return "changed"

    @app.route("/method-view", methods=["GET", "POST"])
    def method_view() -> str:
        return "changed"

    late_bp = Blueprint("late_bp", __name__)

    @late_bp.route("/<name>", methods=["POST", "DELETE"])
    def named(name: str) -> str:
        return "changed"

    app.register_blueprint(late_bp, url_prefix="/late-bp")


def test_every_state_changing_route_without_a_token_is_refused(make_app: MakeApp) -> None:
    app, left_out = every_installed_plugin_app(make_app)
    assert "forms" in app.extensions
    assert not left_out, f"installed plugins that could not start in the walk: {left_out}"
    add_app_routes(app)
    results = assert_csrf_protected(app)
    by_endpoint = {(r.endpoint, r.method): r for r in results}
    # The walk covered the test plugin's blueprints, its app routes and the routes added afterwards.
    for key in [
        ("pages.profile", "POST"),
        ("pages.item", "PUT"),
        ("pages.item", "PATCH"),
        ("pages.item", "DELETE"),
        ("pages.upload", "POST"),
        ("app_post", "POST"),
        ("hooks.other", "POST"),
        ("late", "POST"),
        ("late", "PUT"),
        ("choice", "PATCH"),
        ("choice", "DELETE"),
        ("method_view", "POST"),
        ("late_bp.named", "DELETE"),
    ]:
        assert by_endpoint[key].refused and by_endpoint[key].status == 400, by_endpoint[key]
    # Exempt endpoints are the ones exempted, each with its reason, and they did answer.
    exempt = {(r.endpoint, r.method): (r.exempt, r.status) for r in results if r.exempt}
    # erlen-api's endpoints (such as an installed plugin's resources) are exempt here because erlen-api
    # checks the CSRF header itself: without it, they too were refused (403, a problem document).
    checked_by_api = {key: answer for key, answer in exempt.items() if answer[0].startswith("erlen-api checks")}
    assert all(status == 403 for _, status in checked_by_api.values()), checked_by_api
    exempt = {key: answer for key, answer in exempt.items() if key not in checked_by_api}
    assert exempt == {
        ("api.create", "POST"): ("authenticated by bearer token", 201),
        ("hooks.incoming", "POST"): ("verified by an HMAC signature header", 200),
        ("webhook", "POST"): ("signed by the payment provider", 200),
    }
    # No safe method was sent.
    assert {r.method for r in results} <= {"POST", "PUT", "PATCH", "DELETE"}


def test_with_a_token_the_same_routes_answer(make_app: MakeApp) -> None:
    app, _ = every_installed_plugin_app(make_app)
    add_app_routes(app)
    client = csrf_client_for(app)
    for rule in app.url_map.iter_rules():
        for method in sorted({"POST", "PUT", "PATCH", "DELETE"} & set(rule.methods or ())):
            response = client.open(build_path(rule), method=method, headers={"Accept": "application/json"})
            assert response.status_code < 500, (rule.rule, method)
            body = response.get_json(silent=True)
            assert not (isinstance(body, dict) and body.get("error") == "csrf"), (rule.rule, method, body)


def test_the_walk_finds_an_unprotected_route(make_app: MakeApp) -> None:
    app = make_app(["forms"], {"FORMS_CSRF_ENABLED": False})

    @app.post("/open")
    def open_door() -> str:
        return "open"

    assert [(r.endpoint, r.method, r.status) for r in unprotected_routes(app)] == [("open_door", "POST", 200)]
    with pytest.raises(AssertionError, match="POST /open"):
        assert_csrf_protected(app)


def test_walk_routes_on_an_app_without_unsafe_routes(make_app: MakeApp) -> None:
    assert walk_routes(make_app(["forms"])) == []


def test_the_walk_sends_every_method_a_route_accepts_but_the_safe_ones(make_app: MakeApp) -> None:
    app = make_app(["forms"], {"FORMS_CSRF_ENABLED": False})

    @app.route("/cache", methods=["GET", "PURGE"])
    def purge_cache() -> str:
        return "purged"

    assert [(r.method, r.status) for r in walk_routes(app)] == [("PURGE", 200)]
    assert [(r.method, r.status) for r in walk_routes(app, methods=["POST"])] == []
