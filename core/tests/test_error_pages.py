"""Error pages: every HTTP error in the layout, JSON for clients that ask for it, overridable, no context processor."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from flask import Flask, Response, abort
from werkzeug.exceptions import HTTPException, TooManyRequests

import erlen
from erlen.errorpages import MESSAGES
from erlen.testing import MakeApp

CODES = [400, 401, 403, 404, 405, 413, 429, 500, 503]


def error_app(make_app: MakeApp, root: Path | None = None) -> Flask:
    """An app whose views fail with each status, with production's handling of unhandled exceptions."""
    options: dict[str, t.Any] = {"root_path": str(root)} if root is not None else {}
    app = make_app([], {"SITE_NAME": "Shop", "PROPAGATE_EXCEPTIONS": False}, **options)

    @app.get("/")
    def home() -> str:
        return "home"

    @app.get("/fail/<int:status>")
    def fail(status: int) -> str:
        if status == 500:
            raise RuntimeError("secret internals")
        if status == 429:
            raise TooManyRequests(retry_after=30)
        abort(status)

    @app.post("/only-post")
    def only_post() -> str:
        return "posted"

    return app


@pytest.mark.parametrize("status", CODES)
def test_each_error_renders_in_the_layout_with_a_way_back(make_app: MakeApp, status: int) -> None:
    client = error_app(make_app).test_client()
    response = client.get(f"/fail/{status}")
    assert response.status_code == status
    assert response.mimetype == "text/html"
    html = response.text
    title, detail = MESSAGES[status]
    assert f"<title>{title} · Shop</title>" in html
    assert '<html lang="en">' in html and '<main id="main"' in html
    assert "/static/plugins/erlen/erlen.css" in html and "favicon.svg" in html
    assert f'<h1 id="erlen-error-title">{title}</h1>' in html and detail in html
    assert 'href="/">Go to the home page</a>' in html
    assert "secret internals" not in html


def test_the_stylesheet_and_favicon_are_served_from_core(make_app: MakeApp) -> None:
    client = error_app(make_app).test_client()
    with client.get("/static/plugins/erlen/erlen.css") as css:
        assert css.status_code == 200 and "prefers-color-scheme: dark" in css.get_data(as_text=True)
    with client.get("/static/plugins/erlen/favicon.svg") as favicon:
        assert favicon.status_code == 200 and favicon.mimetype == "image/svg+xml"


@pytest.mark.parametrize("status", CODES)
def test_a_client_asking_for_json_gets_a_problem(make_app: MakeApp, status: int) -> None:
    client = error_app(make_app).test_client()
    response = client.get(f"/fail/{status}", headers={"Accept": "application/json"})
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    title, detail = MESSAGES[status]
    assert response.json == {"status": status, "title": title, "detail": detail}


def test_json_is_chosen_by_preference_and_for_json_requests(make_app: MakeApp) -> None:
    client = error_app(make_app).test_client()
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert client.get("/missing", headers={"Accept": browser}).mimetype == "text/html"
    assert client.get("/missing", headers={"Accept": "application/json;q=0.9, text/html;q=0.5"}).is_json
    assert client.get("/missing").mimetype == "text/html"  # no Accept header: a page
    assert client.post("/missing", json={"a": 1}).mimetype == "application/problem+json"


def test_the_status_headers_are_kept(make_app: MakeApp) -> None:
    client = error_app(make_app).test_client()
    not_allowed = client.get("/only-post")
    assert not_allowed.status_code == 405 and set(not_allowed.headers["Allow"].split(", ")) >= {"POST"}
    assert client.get("/fail/429").headers["Retry-After"] == "30"
    assert client.get("/fail/429", headers={"Accept": "application/json"}).headers["Retry-After"] == "30"


def test_a_description_given_to_abort_is_the_detail_but_never_a_500s(make_app: MakeApp) -> None:
    app = error_app(make_app)

    @app.get("/note")
    def note() -> str:
        abort(404, "No such note.")

    client = app.test_client()
    assert "No such note." in client.get("/note").text
    assert (client.get("/note", headers={"Accept": "application/json"}).json or {})["detail"] == "No such note."


def test_the_app_overrides_one_status_and_then_every_status(make_app: MakeApp, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "errors").mkdir(parents=True)
    (templates / "errors" / "404.html").write_text(
        '{% extends "erlen/error.html" %}{% block error_detail %}<p>Lost? Try the search.</p>{% endblock %}'
    )
    client = error_app(make_app, tmp_path).test_client()
    lost = client.get("/missing")
    assert lost.status_code == 404 and "Lost? Try the search." in lost.text and "erlen.css" in lost.text
    assert "Lost?" not in client.get("/fail/403").text
    (templates / "erlen").mkdir()
    (templates / "erlen" / "error.html").write_text("Our own page: {{ status }} {{ title }}")
    app = error_app(make_app, tmp_path)
    assert app.test_client().get("/fail/403").text == "Our own page: 403 Access denied"


def test_the_apps_layout_applies_to_error_pages(make_app: MakeApp, tmp_path: Path) -> None:
    (tmp_path / "templates" / "erlen").mkdir(parents=True)
    (tmp_path / "templates" / "erlen" / "layout.html").write_text(
        '{% extends "erlen/base.html" %}{% block nav %}<a href="/shop">Our shop</a>{% endblock %}'
    )
    html = error_app(make_app, tmp_path).test_client().get("/missing").text
    assert '<nav class="erlen-nav" aria-label="Main"><a href="/shop">Our shop</a></nav>' in html


def test_error_pages_run_no_context_processor(make_app: MakeApp) -> None:
    app = error_app(make_app)
    calls: list[str] = []

    @app.context_processor
    def loads_the_user() -> dict[str, t.Any]:  # as Flask-Login's does: it would query the database
        calls.append("context processor")
        return {}

    assert app.test_client().get("/missing").status_code == 404
    assert app.test_client().get("/fail/500").status_code == 500
    assert calls == []


def test_the_back_link_points_only_to_this_site(make_app: MakeApp) -> None:
    client = error_app(make_app).test_client()
    same_site = client.get("/missing", headers={"Referer": "http://localhost/some/page"}).text
    assert '<a class="erlen-button" href="http://localhost/some/page">Go back</a>' in same_site
    other_site = client.get("/missing", headers={"Referer": "https://evil.example/"}).text
    assert "evil.example" not in other_site and "Go back" not in other_site


def test_a_form_posted_to_its_own_address_gets_a_back_link(make_app: MakeApp) -> None:
    # Found by walking the example app: a note's form with an expired CSRF token (it posts to its own address)
    # answered "Go back, reload the page and submit it again" with only "Go to the home page" to click.
    app = error_app(make_app)

    @app.route("/form", methods=["GET", "POST"])
    def form() -> str:
        abort(400)

    client = app.test_client()
    posted = client.post("/form", headers={"Referer": "http://localhost/form"}).text
    assert '<a class="erlen-button" href="http://localhost/form">Go back</a>' in posted
    # A GET whose referrer is itself would only load the failing page again.
    reloaded = client.get("/form", headers={"Referer": "http://localhost/form"}).text
    assert "Go back" not in reloaded and "Go to the home page" in reloaded


def test_a_broken_error_template_still_gives_a_page(make_app: MakeApp, tmp_path: Path) -> None:
    (tmp_path / "templates" / "errors").mkdir(parents=True)
    (tmp_path / "templates" / "errors" / "500.html").write_text("{{ undefined_thing.attribute }}")
    response = error_app(make_app, tmp_path).test_client().get("/fail/500")
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in response.text and "Go to the home page" in response.text


def test_handlers_of_the_app_come_first(make_app: MakeApp) -> None:
    app = error_app(make_app)

    @app.errorhandler(404)
    def not_found(exc: Exception) -> tuple[str, int]:
        return "our own", 404

    assert app.test_client().get("/missing").text == "our own"


def test_error_response_is_public_for_plugins(make_app: MakeApp) -> None:
    app = error_app(make_app)

    @app.get("/closed")
    def closed() -> t.Any:
        return erlen.error_response(503, detail="Back at nine.", headers={"Retry-After": "60"})

    client = app.test_client()
    page = client.get("/closed")
    assert page.status_code == 503 and "Back at nine." in page.text and page.headers["Retry-After"] == "60"
    problem = client.get("/closed", headers={"Accept": "application/json"})
    assert problem.json == {"status": 503, "title": "Service unavailable", "detail": "Back at nine."}


def test_an_exception_with_a_response_of_its_own_keeps_it(make_app: MakeApp) -> None:
    app = error_app(make_app)

    class Teapot(HTTPException):
        code = 418

        def get_response(self, environ: t.Any = None, scope: t.Any = None) -> Response:
            return Response("short and stout", status=418)

    @app.get("/own")
    def own() -> str:
        abort(Response("made by the view", status=409))

    @app.get("/teapot")
    def teapot() -> str:
        raise Teapot()

    client = app.test_client()
    assert client.get("/own").text == "made by the view"
    assert client.get("/teapot").text == "short and stout"


@pytest.mark.parametrize("referrer", [None, "http://evil.example/somewhere"])
def test_an_untrusted_host_gets_the_plain_400_page_without_an_error_logged(
    make_app: MakeApp, referrer: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    # Such a request is never routed: no URL can be built, and request.host raises again. With a Referer,
    # the way-back link asked for request.host outside the page's guard, and the answer was a bare 500.
    app = make_app([], {"TRUSTED_HOSTS": ["notes.example.com"]})
    headers = {"Host": "evil.example"} | ({"Referer": referrer} if referrer else {})
    response = app.test_client().get("/", headers=headers)
    assert response.status_code == 400
    assert "is not trusted" in response.text and "Go to the home page" in response.text
    assert not [record for record in caplog.records if record.levelname == "ERROR"]
