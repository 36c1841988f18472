"""The interactive documentation at /api/docs, with Swagger UI's files shipped, not from a CDN."""

from __future__ import annotations

import re
import typing as t

import pytest


def test_the_docs_page_loads_its_assets_from_the_app(client: t.Any) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.text
    assert 'data-spec-url="/api/openapi.json"' in html
    assert "<script>" not in html  # no inline script: works under a strict Content-Security-Policy
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/api/docs/") for source in sources)
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.data) > 100
        asset.close()


def test_swagger_ui_supports_openapi_3_1(client: t.Any) -> None:
    from erlen_api.docs import swagger_ui_folder

    version = (swagger_ui_folder() / "VERSION").read_text().strip().lstrip("v")
    assert int(version.split(".")[0]) >= 5


def test_a_missing_asset_is_a_problem(client: t.Any) -> None:
    response = client.get("/api/docs/assets/nothing.js")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_docs_can_be_turned_off(make_app: t.Any) -> None:
    app = make_app(["api"], {"API_DOCS": False})
    client = app.test_client()
    assert client.get("/api/docs").status_code == 404
    assert client.get("/api/openapi.json").status_code == 200


def test_a_csrf_token_for_the_page_with_erlen_forms(make_app: t.Any) -> None:
    pytest.importorskip("erlen_forms", reason="erlen-forms is not installed")
    app = make_app(["forms", "api"])
    html = app.test_client().get("/api/docs").text
    assert re.search(r'data-csrf-token="[^"]+" data-csrf-header="X-CSRF-Token"', html)
