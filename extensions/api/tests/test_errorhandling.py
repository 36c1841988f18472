"""Every error under an API's prefix is a problem document, never HTML, never a traceback."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from erlen_api import PROBLEM_MEDIA_TYPE, Problem


@pytest.fixture
def erlen_config() -> dict[str, t.Any]:
    return {"PROPAGATE_EXCEPTIONS": False}


def test_abort_with_detail(client: t.Any) -> None:
    response = client.get("/api/v1/items/7")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    assert response.json == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No item 7.",
        "instance": "/api/v1/items/7",
    }


def test_unmatched_paths_and_methods_under_the_prefix(client: t.Any) -> None:
    missing = client.get("/api/v1/nowhere")
    assert (missing.status_code, missing.mimetype, missing.json["title"]) == (404, PROBLEM_MEDIA_TYPE, "Not Found")
    other = client.get("/api/unknown-version/items")
    assert other.mimetype == PROBLEM_MEDIA_TYPE
    wrong_method = client.patch("/api/v1/items")
    assert wrong_method.status_code == 405
    assert wrong_method.mimetype == PROBLEM_MEDIA_TYPE
    assert set(wrong_method.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_an_unmatched_path_says_where_the_paths_are_listed(client: t.Any) -> None:
    # An id of letters where the route takes a number matches no route: Werkzeug's 404 told an API client
    # "If you entered the URL manually please check your spelling", words for a person at a browser.
    for path in ("/api/v1/items/abc", "/api/v1/nowhere"):
        detail = client.get(path).json["detail"]
        assert detail == (
            f"No operation of the API has the path {path}: check it, and the type of each of its parameters "
            "(a number where an id is one), against the OpenAPI document at /api/openapi.json."
        )
    # A 404 a view raises keeps its own words.
    assert client.get("/api/v1/items/7").json["detail"] == "No item 7."


def test_outside_the_prefix_flask_answers_as_usual(client: t.Any) -> None:
    response = client.get("/elsewhere")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert client.get("/apiary").mimetype == "text/html"


def test_the_apps_own_error_pages_do_not_apply_under_the_api(app: Flask, client: t.Any) -> None:
    app.register_error_handler(404, lambda exc: ("<h1>Lost</h1>", 404))
    app.register_error_handler(500, lambda exc: ("<h1>Oops</h1>", 500))
    assert client.get("/api/v1/items/7").mimetype == PROBLEM_MEDIA_TYPE
    assert client.get("/api/v1/crash").mimetype == PROBLEM_MEDIA_TYPE
    assert client.get("/elsewhere").data == b"<h1>Lost</h1>"


def test_an_unexpected_exception_is_a_500_without_traceback(client: t.Any) -> None:
    response = client.get("/api/v1/crash")
    assert response.status_code == 500
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    assert b"secret detail" not in response.data and b"Traceback" not in response.data
    assert response.json["detail"] == "The server met an unexpected error."


def test_problems_with_headers_and_extension_members(app: Flask, client: t.Any) -> None:
    from api_sample.shapes import api

    assert api  # the sample is registered by the app fixture

    @app.get("/plain/limited")
    def limited() -> t.Any:
        raise Problem(429, "Slow down.", headers={"Retry-After": "30"}, limit=10)

    response = client.get("/plain/limited")  # outside any API, a Problem still renders as one
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert response.json == {
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Slow down.",
        "limit": 10,
    }


@pytest.mark.parametrize("status", [401, 403, 404, 405, 406, 409, 412, 413, 415, 429, 503])
def test_every_status_of_flask_abort_is_a_problem(app: Flask, status: int) -> None:
    from flask import abort

    from erlen_api import Api

    api = Api("aborts", __name__, url_prefix="/api/aborts")

    @api.get("/it")
    def it() -> None:
        abort(status)

    app.register_blueprint(api)
    response = app.test_client().get("/api/aborts/it")
    assert response.status_code == status
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    assert response.json["status"] == status


def test_a_problem_status_must_be_an_error() -> None:
    with pytest.raises(ValueError, match="400 to 599"):
        Problem(302)


def test_a_request_that_accepts_no_json_is_a_406(client: t.Any) -> None:
    response = client.get("/api/v1/items/1", headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    for accept in ("application/json", "*/*", "text/html,application/xhtml+xml,*/*;q=0.8", "application/*"):
        assert client.get("/api/v1/items/1", headers={"Accept": accept}).status_code == 200, accept
    assert client.delete("/api/v1/items/1", headers={"Accept": "text/html"}).status_code == 204  # no body to refuse
