"""Query parameters an operation does not know: refused by resource lists and by query models that forbid extras.

A mistyped filter (``?flor=1`` for ``floor``) was ignored, and the client got the whole unfiltered list with a
200: a silent wrong answer. Lists now answer a 422 naming each unknown parameter and the accepted ones.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs, urlsplit

import pydantic.dataclasses
import pytest
from flask import Flask
from pydantic import BaseModel, ConfigDict

for _name in ("erlen_db", "erlen_forms", "erlen_auth"):
    pytest.importorskip(_name, reason=f"{_name} is not installed: these tests run in nox's integration session")

from conftest import SHELF_NAMES as NAMES  # noqa: E402
from werkzeug.http import parse_options_header  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from erlen_api import PROBLEM_MEDIA_TYPE, Api, Query  # noqa: E402
from erlen_api.testing import ApiClient, api_client_for  # noqa: E402

#: The query parameters of the shelves' list: paging, sorting, and its one filter.
SHELVES_ACCEPT = ["cursor", "limit", "sort", "floor"]


@pytest.fixture
def app(shelves_app: Flask) -> Flask:
    return shelves_app


@pytest.fixture
def client(app: Flask) -> ApiClient:
    return api_client_for(app)


def _names(response: t.Any) -> list[str]:
    assert response.status_code == 200, response.data
    return [item["name"] for item in response.json["items"]]


def _refused(response: t.Any) -> dict[str, t.Any]:
    """The problem of a request refused for its inputs."""
    assert (response.status_code, response.mimetype) == (422, PROBLEM_MEDIA_TYPE), response.data[:500]
    problem = t.cast(dict[str, t.Any], response.json)
    assert problem["type"] == "urn:erlen:problem:validation"
    return problem


def test_a_mistyped_filter_is_refused_naming_it_and_the_accepted_ones(client: ApiClient) -> None:
    """Before: 200 with all seven shelves, as if no filter had been asked for."""
    problem = _refused(client.get("/api/v1/shelves?flor=1"))
    assert problem["errors"] == [
        {
            "detail": "The query parameter 'flor' is unknown here: did you mean 'floor'? "
            "Accepted: cursor, limit, sort, floor.",
            "location": "query",
            "parameter": "flor",
            "type": "extra_forbidden",
        }
    ]
    assert problem["accepted_parameters"] == SHELVES_ACCEPT
    assert problem["detail"] == "The request has 1 invalid input."


def test_several_unknown_parameters_are_listed_with_the_other_errors(client: ApiClient) -> None:
    problem = _refused(client.get("/api/v1/shelves?colour=red&flor=1&flor=0&limit=0&page=2"))
    assert [(error["parameter"], error["type"]) for error in problem["errors"]] == [
        ("colour", "extra_forbidden"),
        ("flor", "extra_forbidden"),  # once, however many times it is given
        ("page", "extra_forbidden"),
        ("limit", "greater_than_equal"),
    ]
    assert problem["errors"][0]["detail"] == (
        "The query parameter 'colour' is unknown here. Accepted: cursor, limit, sort, floor."
    )
    assert problem["accepted_parameters"] == SHELVES_ACCEPT
    assert problem["detail"] == "The request has 4 invalid inputs."


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("=1", ""),  # a parameter without a name
        ("%00=1", "\x00"),
        ("fl%00or=1", "fl\x00or"),
        ("%FF=1", "%FF"),  # not UTF-8: Werkzeug keeps the escape
        ("caf%C3%A9=1", "café"),
        ("floor[]=1", "floor[]"),
        ("x" * 2000, "x" * 2000),
    ],
    ids=["no-name", "nul", "nul-inside", "not-utf-8", "utf-8", "brackets", "long"],
)
def test_odd_names_are_refused_and_named_never_a_500(client: ApiClient, query: str, named: str) -> None:
    problem = _refused(client.get(f"/api/v1/shelves?{query}"))
    assert [(error["parameter"], error["type"]) for error in problem["errors"]] == [(named, "extra_forbidden")]
    assert repr(named) in problem["errors"][0]["detail"]


@pytest.mark.parametrize(
    ("query_string", "named"),
    [("\xff=1", "\ufffd"), ("\xed\xa0\x80=1", "\ufffd" * 3), ("caf\xc3\xa9=1", "caf\u00e9")],
)
def test_raw_bytes_of_a_name_are_refused_never_a_500(client: ApiClient, query_string: str, named: str) -> None:
    """The query string's bytes as a server passes them (PEP 3333: each byte a character), not percent-encoded."""
    environ = EnvironBuilder(path="/api/v1/shelves").get_environ()
    environ["QUERY_STRING"] = query_string
    problem = _refused(client.open(environ))
    assert [(error["parameter"], error["type"]) for error in problem["errors"]] == [(named, "extra_forbidden")]


def test_known_filters_sorts_and_cursors_still_work(client: ApiClient) -> None:
    odd = client.get("/api/v1/shelves?floor=1&sort=-name&limit=2")
    assert _names(odd) == ["Law", "Crime"]
    links = {}
    for part in odd.headers["Link"].split(", "):
        target, options = parse_options_header(part)
        links[options["rel"]] = target.strip("<>")
    assert parse_qs(urlsplit(links["next"]).query)["cursor"] == [odd.json["next_cursor"]]
    following = client.get(links["next"])
    assert _names(following) == ["Art"]
    before = {}
    for part in following.headers["Link"].split(", "):
        target, options = parse_options_header(part)
        before[options["rel"]] = target.strip("<>")
    assert _names(client.get(before["prev"])) == ["Law", "Crime"]
    assert sorted(_names(client.get("/api/v1/shelves?floor=0&floor=1"))) == sorted(NAMES)
    # An empty value of a known parameter is that parameter's error, not an unknown one.
    assert [error["parameter"] for error in _refused(client.get("/api/v1/shelves?limit="))["errors"]] == ["limit"]


def test_the_openapi_document_lists_the_same_parameters(client: ApiClient) -> None:
    """The query model forbids extra keys: the document still lists one parameter per field, and nothing else."""
    document = client.get("/api/openapi.json").json
    parameters = document["paths"]["/api/v1/shelves"]["get"]["parameters"]
    assert [item["name"] for item in parameters if item["in"] == "query"] == SHELVES_ACCEPT
    assert not any("ListQuery" in name for name in document["components"]["schemas"])
    problem = document["components"]["schemas"]["ValidationProblemDetails"]["properties"]
    assert problem["accepted_parameters"]["anyOf"] == [{"items": {"type": "string"}, "type": "array"}, {"type": "null"}]
    assert (
        "A query parameter not listed here is refused (422)"
        in document["paths"]["/api/v1/shelves"]["get"]["description"]
    )


class StrictPage(BaseModel):
    """Paging that refuses any other query parameter."""

    model_config = ConfigDict(extra="forbid")

    limit: int = 10


@pydantic.dataclasses.dataclass(config=ConfigDict(extra="forbid"))
class StrictWindow:
    """A dataclass of query parameters that refuses others: its pydantic config says so."""

    days: int = 7


class LenientPage(BaseModel):
    """Paging that ignores other query parameters, as pydantic models do by default."""

    limit: int = 10


def test_an_endpoint_refuses_unknown_parameters_when_its_query_model_forbids_extras(make_app: t.Any) -> None:
    api = Api("strictness", version="v9")

    @api.get("/strict")
    def strict(page: t.Annotated[StrictPage, Query()], colour: str | None = None) -> dict[str, t.Any]:
        return {"limit": page.limit, "colour": colour}

    @api.get("/window")
    def window(span: t.Annotated[StrictWindow, Query()]) -> dict[str, int]:
        return {"days": span.days}

    @api.get("/lenient")
    def lenient(page: t.Annotated[LenientPage, Query()]) -> dict[str, int]:
        return {"limit": page.limit}

    app = make_app(["api"], {})
    app.register_blueprint(api)
    client = app.test_client()
    # Every parameter of the endpoint is accepted: the model's and the view's own.
    assert client.get("/api/v9/strict?limit=3&colour=red").json == {"limit": 3, "colour": "red"}
    problem = _refused(client.get("/api/v9/strict?limt=3"))
    assert problem["errors"] == [
        {
            "detail": "The query parameter 'limt' is unknown here: did you mean 'limit'? Accepted: colour, limit.",
            "location": "query",
            "parameter": "limt",
            "type": "extra_forbidden",
        }
    ]
    assert problem["accepted_parameters"] == ["colour", "limit"]
    assert client.get("/api/v9/window?days=2").json == {"days": 2}
    assert [error["parameter"] for error in _refused(client.get("/api/v9/window?day=2"))["errors"]] == ["day"]
    # A model that does not forbid extras keeps pydantic's default: the others are ignored.
    assert client.get("/api/v9/lenient?limt=3").json == {"limit": 10}
