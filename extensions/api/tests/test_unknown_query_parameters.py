"""Query parameters an operation does not know: refused by resources, by query models that forbid extras, and by
endpoints declared with ``refuse_unknown_query``.

A mistyped filter (``?flor=1`` for ``floor``) was ignored, and the client got the whole unfiltered list with a
200: a silent wrong answer. Lists now answer a 422 naming each unknown parameter and the accepted ones; so do a
resource's other operations (``?fields=name`` on a read answered the whole item), which take none.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import typing as t
from urllib.parse import parse_qs, urlsplit

import pydantic.dataclasses
import pytest
from flask import Flask
from flask.views import MethodView
from pydantic import BaseModel, ConfigDict

for _name in ("erlen_db", "erlen_forms", "erlen_auth"):
    pytest.importorskip(_name, reason=f"{_name} is not installed: these tests run in nox's integration session")

from conftest import SHELF_NAMES as NAMES  # noqa: E402
from conftest import user_with_role  # noqa: E402
from werkzeug.http import parse_options_header  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from erlen_api import PROBLEM_MEDIA_TYPE, Api, Query, endpoint  # noqa: E402
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


# -- a resource's other operations: they take no query parameter ------------------------------------------------


@pytest.fixture
def editor(app: Flask) -> ApiClient:
    """A client with a token of a librarian, who may create, change and delete shelves (books.edit)."""
    user = user_with_role(app, "ada@example.com", "librarian", "books.edit")
    return api_client_for(app, token=f"user-{user.id}")


def _first_shelf(client: ApiClient) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], client.get("/api/v1/shelves?limit=1").json["items"][0])


def test_an_item_read_refuses_a_parameter_it_does_not_read_as_a_list_does(client: ApiClient) -> None:
    """Before: 200 with the whole item, as if ``fields`` had been understood."""
    shelf = _first_shelf(client)
    problem = _refused(client.get(f"/api/v1/shelves/{shelf['id']}?fields=name"))
    assert problem["errors"] == [
        {
            "detail": "The query parameter 'fields' is unknown here. Accepted: none.",
            "location": "query",
            "parameter": "fields",
            "type": "extra_forbidden",
        }
    ]
    assert problem["accepted_parameters"] == []
    assert (problem["title"], problem["status"], problem["detail"]) == (
        "Invalid request",
        422,
        "The request has 1 invalid input.",
    )
    assert problem["instance"] == f"/api/v1/shelves/{shelf['id']}"
    # A list's parameters are unknown to an item; each is named once, however many times it is given.
    problem = _refused(client.get(f"/api/v1/shelves/{shelf['id']}?limit=1&floor=0&floor=1"))
    assert [(error["parameter"], error["type"]) for error in problem["errors"]] == [
        ("limit", "extra_forbidden"),
        ("floor", "extra_forbidden"),
    ]
    assert problem["detail"] == "The request has 2 invalid inputs."
    read = client.get(f"/api/v1/shelves/{shelf['id']}")
    assert (read.status_code, read.json) == (200, shelf)


@pytest.mark.parametrize(("query", "named"), [("=1", ""), ("fl%00or=1", "fl\x00or"), ("%FF=1", "%FF")])
def test_odd_names_on_an_item_are_refused_and_named_never_a_500(client: ApiClient, query: str, named: str) -> None:
    problem = _refused(client.get(f"/api/v1/shelves/{_first_shelf(client)['id']}?{query}"))
    assert [(error["parameter"], error["type"]) for error in problem["errors"]] == [(named, "extra_forbidden")]
    assert repr(named) in problem["errors"][0]["detail"]


def test_create_change_and_delete_refuse_them_and_change_nothing(editor: ApiClient) -> None:
    """Before: each went ahead, ``?dry_run=1`` or not."""
    shelf = _first_shelf(editor)
    url = f"/api/v1/shelves/{shelf['id']}"
    count = len(_names(editor.get("/api/v1/shelves?limit=100")))
    for response in (
        editor.post("/api/v1/shelves?dry_run=1", json={"name": "Poetry", "floor": 2}),
        editor.patch(f"{url}?dry_run=1", json={"name": "Renamed"}),
        editor.delete(f"{url}?dry_run=1"),
    ):
        problem = _refused(response)
        assert [(error["parameter"], error["type"]) for error in problem["errors"]] == [("dry_run", "extra_forbidden")]
        assert problem["accepted_parameters"] == []
    assert editor.get(url).json == shelf
    assert len(_names(editor.get("/api/v1/shelves?limit=100"))) == count
    # Without it, each is answered.
    assert editor.post("/api/v1/shelves", json={"name": "Poetry", "floor": 2}).status_code == 201
    assert editor.patch(url, json={"name": "Renamed"}).json["name"] == "Renamed"
    assert editor.delete(url).status_code == 204


def test_an_unknown_parameter_is_listed_first_with_the_bodys_errors(editor: ApiClient) -> None:
    problem = _refused(editor.patch(f"/api/v1/shelves/{_first_shelf(editor)['id']}?colour=red", json={"name": 7}))
    assert [
        (error["location"], error.get("parameter") or error.get("pointer"), error["type"])
        for error in problem["errors"]
    ] == [
        ("query", "colour", "extra_forbidden"),
        ("body", "#/name", "string_type"),
    ]
    assert problem["accepted_parameters"] == []


def test_head_is_refused_as_get_is_and_options_is_answered(client: ApiClient) -> None:
    url = f"/api/v1/shelves/{_first_shelf(client)['id']}"
    for target in (url, "/api/v1/shelves"):
        head = client.head(f"{target}?fields=name")
        assert (head.status_code, head.mimetype, head.data) == (422, PROBLEM_MEDIA_TYPE, b"")
        assert client.head(target).status_code == 200
        # OPTIONS reads no parameter and answers the methods whatever the query string holds.
        options = client.options(f"{target}?fields=name")
        assert options.status_code == 200
        assert "GET" in options.headers["Allow"]


def test_authentication_comes_first_as_on_a_list(app: Flask) -> None:
    """A request that may not reach the books learns that first, whatever its query string."""
    anonymous = app.test_client()
    for url in ("/api/v1/books?colour=red", "/api/v1/books/1?colour=red"):
        assert anonymous.get(url).status_code == 401


def test_the_openapi_document_says_items_refuse_them(client: ApiClient) -> None:
    document = client.get("/api/openapi.json").json
    operations = {
        ("get", "/api/v1/shelves"): ["cursor", "limit", "sort", "floor"],
        ("post", "/api/v1/shelves"): [],
        ("get", "/api/v1/shelves/{id}"): [],
        ("patch", "/api/v1/shelves/{id}"): [],
        ("delete", "/api/v1/shelves/{id}"): [],
    }
    for (method, path), accepted in operations.items():
        operation = document["paths"][path][method]
        parameters = operation.get("parameters", [])
        assert [item["name"] for item in parameters if item["in"] == "query"] == accepted
        invalid = operation["responses"]["422"]
        assert "A query parameter the operation does not list is one (type extra_forbidden" in invalid["description"]
        assert invalid["content"][PROBLEM_MEDIA_TYPE]["schema"] == {
            "$ref": "#/components/schemas/ValidationProblemDetails"
        }
        if method != "get" or path.endswith("}"):
            assert "It takes no query parameter: one is refused (422), never ignored." in operation["description"]


# -- hand-written endpoints: refuse_unknown_query ------------------------------------------------------------------


def test_refuse_unknown_query_makes_any_endpoint_refuse_them(make_app: t.Any) -> None:
    api = Api("declared", version="v8")

    @api.get("/me", refuse_unknown_query=True)
    def me() -> dict[str, str]:
        return {"name": "ada"}

    @api.get("/notes/<int:id>", refuse_unknown_query=True)
    def note(id: int, page: t.Annotated[LenientPage, Query()], lang: str = "en") -> dict[str, t.Any]:
        return {"id": id, "lang": lang}

    @api.get("/lenient/<int:id>")
    def lenient(id: int) -> dict[str, int]:
        return {"id": id}

    class Thing(MethodView):
        @endpoint(refuse_unknown_query=True)
        def get(self, id: int) -> dict[str, int]:
            return {"id": id}

        def delete(self, id: int) -> None:
            return None

    api.add_url_rule("/things/<int:id>", view_func=Thing.as_view("thing"))
    app = make_app(["api"], {})
    app.register_blueprint(api)
    client = app.test_client()
    problem = _refused(client.get("/api/v8/me?fields=name"))
    assert problem["errors"][0]["detail"] == "The query parameter 'fields' is unknown here. Accepted: none."
    assert problem["accepted_parameters"] == []
    assert client.get("/api/v8/me").json == {"name": "ada"}
    # Its parameters and its query model's are read, whether the model forbids extra keys or not.
    assert client.get("/api/v8/notes/3?lang=fr&limit=2").json == {"id": 3, "lang": "fr"}
    problem = _refused(client.get("/api/v8/notes/3?lng=fr"))
    assert problem["errors"][0]["detail"] == (
        "The query parameter 'lng' is unknown here: did you mean 'lang'? Accepted: lang, limit."
    )
    assert problem["accepted_parameters"] == ["lang", "limit"]
    # Without it, they are ignored, as before.
    assert client.get("/api/v8/lenient/3?fields=name").json == {"id": 3}
    # A class view's method declares it with @endpoint, for that method alone.
    assert [error["parameter"] for error in _refused(client.get("/api/v8/things/3?x=1"))["errors"]] == ["x"]
    assert client.delete("/api/v8/things/3?x=1").status_code == 204
    document = client.get("/api/openapi.json").json
    assert "422" in document["paths"]["/api/v8/me"]["get"]["responses"]
    assert "extra_forbidden" not in document["paths"]["/api/v8/lenient/{id}"]["get"]["responses"]["422"]["description"]


def test_an_api_refuses_them_on_every_endpoint_unless_one_says_otherwise(make_app: t.Any) -> None:
    api = Api("strict_api", version="v7", refuse_unknown_query=True)

    @api.get("/status")
    def status() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/legacy", refuse_unknown_query=False)
    def legacy() -> dict[str, str]:
        return {"status": "ok"}

    app = make_app(["api"], {})
    app.register_blueprint(api)
    client = app.test_client()
    assert [error["parameter"] for error in _refused(client.get("/api/v7/status?_=1"))["errors"]] == ["_"]
    assert client.get("/api/v7/legacy?_=1").json == {"status": "ok"}


@pytest.mark.parametrize(
    ("query", "meant"),
    [("LIMIT=2", "limit"), ("Sort=name", "sort"), ("CURSOR=x", "cursor"), ("%EF%AC%82oor=1", "floor")],
    ids=["upper", "title", "upper-long", "ligature"],
)
def test_a_name_that_differs_only_in_case_or_form_suggests_the_accepted_one(
    client: ApiClient, query: str, meant: str
) -> None:
    """Names are matched exactly (``LIMIT`` is not ``limit``), and the error says which one was meant: it suggested
    nothing for ``LIMIT`` or ``ﬂoor`` (a ligature), which difflib finds unlike ``limit`` and ``floor``."""
    (error,) = _refused(client.get(f"/api/v1/shelves?{query}"))["errors"]
    assert error["type"] == "extra_forbidden"
    assert f"did you mean {meant!r}?" in error["detail"]
