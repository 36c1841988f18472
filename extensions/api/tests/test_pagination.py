"""The lists of resources: keyset pages both ways with Link headers, filters, sorts, cursors, estimated totals.

On SQLite and PostgreSQL.
"""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

for _name in ("erlen_db", "erlen_forms", "erlen_auth"):
    pytest.importorskip(_name, reason=f"{_name} is not installed: these tests run in nox's integration session")

import sqlalchemy as sa  # noqa: E402
from api_sample.library import Book, Status  # noqa: E402
from conftest import SHELF_NAMES as NAMES  # noqa: E402
from werkzeug.http import parse_options_header  # noqa: E402

from erlen_api.testing import ApiClient, api_client_for  # noqa: E402
from erlen_auth.testing import make_user  # noqa: E402
from erlen_db import database_of  # noqa: E402


@pytest.fixture
def app(shelves_app: Flask) -> Flask:
    return shelves_app


@pytest.fixture
def client(app: Flask) -> ApiClient:
    return api_client_for(app)


def _links(response: t.Any) -> dict[str, str]:
    """The targets of the Link header, by rel."""
    found = {}
    for part in response.headers.get("Link", "").split(", "):
        if part:
            target, options = parse_options_header(part)
            found[options["rel"]] = target.strip("<>")
    return found


def _names(response: t.Any) -> list[str]:
    assert response.status_code == 200, response.data
    return [item["name"] for item in response.json["items"]]


def test_pages_forward_and_back_by_cursor(client: ApiClient) -> None:
    first = client.get("/api/v1/shelves?limit=3")
    assert _names(first) == ["Maps", "Art", "Jazz"]  # by primary key
    assert set(_links(first)) == {"next"}
    assert first.json["prev_cursor"] is None
    assert parse_qs(urlsplit(_links(first)["next"]).query)["cursor"] == [first.json["next_cursor"]]
    second = client.get(_links(first)["next"])
    assert _names(second) == ["Crime", "Botany", "Law"]
    assert set(_links(second)) == {"next", "prev"}
    third = client.get(_links(second)["next"])
    assert _names(third) == ["Ethics"]
    assert set(_links(third)) == {"prev"} and third.json["next_cursor"] is None
    back = client.get(_links(third)["prev"])
    assert _names(back) == ["Crime", "Botany", "Law"]
    start = client.get(_links(back)["prev"])
    assert _names(start) == ["Maps", "Art", "Jazz"]
    assert set(_links(start)) == {"next"}
    assert _names(client.get(_links(start)["next"])) == ["Crime", "Botany", "Law"]


def test_sorts_filters_and_their_cursors(client: ApiClient) -> None:
    by_name = client.get("/api/v1/shelves?sort=name&limit=4")
    assert _names(by_name) == ["Art", "Botany", "Crime", "Ethics"]
    assert _names(client.get(_links(by_name)["next"])) == ["Jazz", "Law", "Maps"]
    descending = client.get("/api/v1/shelves?sort=-name&limit=2")
    assert _names(descending) == ["Maps", "Law"]
    assert _names(client.get(_links(descending)["next"])) == ["Jazz", "Ethics"]
    # Filters and the sort carry over into the links.
    odd = client.get("/api/v1/shelves?floor=1&sort=-name&limit=2")
    assert _names(odd) == ["Law", "Crime"]
    query = parse_qs(urlsplit(_links(odd)["next"]).query)
    assert query["floor"] == ["1"] and query["sort"] == ["-name"]
    assert _names(client.get(_links(odd)["next"])) == ["Art"]
    assert sorted(_names(client.get("/api/v1/shelves?floor=0&floor=1"))) == sorted(NAMES)


def test_bad_cursors_sorts_and_filters_are_422s(client: ApiClient) -> None:
    for url in ("/api/v1/shelves?cursor=not-a-cursor", "/api/v1/shelves?cursor=WzEsMiwzXQ"):
        problem = client.get(url)
        assert problem.status_code == 422, problem.data
        assert problem.json["errors"][0]["parameter"] == "cursor"
    by_name = client.get("/api/v1/shelves?sort=name&limit=2").json["next_cursor"]
    other_sort = client.get(f"/api/v1/shelves?cursor={by_name}")
    assert other_sort.status_code == 422
    assert other_sort.json["errors"][0]["detail"] == "The cursor was made for sort='name'; this request sorts by 'id'."
    for parameter in ("sort=colour", "floor=high", "limit=0", "limit=101"):
        response = client.get(f"/api/v1/shelves?{parameter}")
        assert response.status_code == 422, parameter
        assert response.json["errors"][0]["parameter"] == parameter.partition("=")[0]


def test_a_filter_with_too_many_values_is_a_422_before_the_database(client: ApiClient) -> None:
    """Tens of thousands of filter values passed SQLite's limit of bound parameters (a 500) and made an enormous
    statement on PostgreSQL: past API_MAX_FILTER_VALUES (100), a 422 naming the parameter and the limit."""
    floors = [str(n % 2) for n in range(40000)]
    response = client.get("/api/v1/shelves", query_string={"floor": floors})
    assert response.status_code == 422, response.data[:300]
    assert response.json["errors"] == [
        {
            "detail": "At most 100 values of 'floor' are accepted; the request has 40000.",
            "location": "query",
            "parameter": "floor",
            "type": "too_many_values",
        }
    ]
    assert sorted(_names(client.get("/api/v1/shelves", query_string={"floor": floors[:100]}))) == sorted(NAMES)
    # One sort key: a repeated one is refused (it was read as the first, which another parser need not agree with).
    repeated = client.get("/api/v1/shelves?sort=name&sort=-name&limit=2")
    assert repeated.status_code == 422, repeated.data
    assert [(e["parameter"], e["type"]) for e in repeated.json["errors"]] == [("sort", "repeated_parameter")]
    assert _names(client.get("/api/v1/shelves?sort=name&limit=2")) == ["Art", "Botany"]


def test_a_cursor_with_values_of_another_type_is_a_422(client: ApiClient) -> None:
    import base64
    import json

    forged = base64.urlsafe_b64encode(json.dumps(["name", 0, [{"x": 1}, 2]]).encode()).decode()
    assert client.get(f"/api/v1/shelves?sort=name&cursor={forged}").status_code == 422
    forged = base64.urlsafe_b64encode(json.dumps(["id", 0, ["seven"]]).encode()).decode()
    assert client.get(f"/api/v1/shelves?cursor={forged}").status_code == 422
    # Beyond the column's integers: refused before the database sees it (SQLite would raise an OverflowError).
    forged = base64.urlsafe_b64encode(json.dumps(["id", 0, [10**30]]).encode()).decode()
    assert client.get(f"/api/v1/shelves?cursor={forged}").status_code == 422


def test_a_cursor_nested_too_deep_to_read_is_a_422(client: ApiClient) -> None:
    """A forged cursor of arrays nested thousands deep made the json module's reader exceed Python's recursion
    limit: a 500 for a query parameter; now the 422 of any cursor that is not one."""
    import base64

    forged = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode()
    problem = client.get("/api/v1/shelves", query_string={"cursor": forged})
    assert (problem.status_code, problem.mimetype) == (422, "application/problem+json"), problem.data
    assert [(error["parameter"], error["type"]) for error in problem.json["errors"]] == [("cursor", "cursor_invalid")]


def test_enum_filters_and_a_descending_default_sort(app: Flask) -> None:
    owner = make_user(app, "owner@example.com")
    db = database_of(app).new_session()
    try:
        db.add_all(
            Book(title=f"Book {n}", owner_id=owner.id, status=Status.published if n % 3 == 0 else Status.draft)
            for n in range(12)
        )
        db.commit()
    finally:
        db.close()
    client = api_client_for(app, token=f"user-{owner.id}")
    page = client.get("/api/v1/books")  # per_page 10, newest first
    assert [b["title"] for b in page.json["items"]] == [f"Book {n}" for n in range(11, 1, -1)]
    assert [b["title"] for b in client.get(_links(page)["next"]).json["items"]] == ["Book 1", "Book 0"]
    published = client.get("/api/v1/books?status=published&sort=title")
    assert [b["title"] for b in published.json["items"]] == ["Book 0", "Book 3", "Book 6", "Book 9"]


def test_the_estimated_total(app: Flask, client: ApiClient) -> None:
    if database_of(app).engine.dialect.name == "sqlite":
        # No cheap estimate on SQLite: counting reads every row.
        assert client.get("/api/v1/shelves").json["estimated_total"] is None
        return
    with database_of(app).engine.begin() as connection:
        connection.execute(sa.text("ANALYZE api_sample_shelf"))
    # The planner's estimate, exact on an analysed table; filtered, it scales with the filter's selectivity.
    assert client.get("/api/v1/shelves?limit=2").json["estimated_total"] == len(NAMES)
    assert 1 <= client.get("/api/v1/shelves?floor=1").json["estimated_total"] <= len(NAMES)
