"""Inputs: path, query and body parameters parsed and validated before the view runs."""

from __future__ import annotations

import decimal
import importlib
import io
import json
import typing as t

import pytest
from flask import Flask
from pydantic import BaseModel, Field

from erlen_api import PROBLEM_MEDIA_TYPE, Api, Query
from erlen_api.endpoint import json_pointer


def test_a_model_body_is_validated_and_passed_to_the_view(client: t.Any) -> None:
    response = client.post("/api/v1/items", json={"name": "pen", "quantity": 2})
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert response.data == b'{"id":1,"name":"pen","quantity":2}'


def test_every_invalid_field_is_listed_with_its_json_pointer(client: t.Any) -> None:
    response = client.post("/api/v1/items", json={"name": "", "quantity": -1, "tags": ["ok", 7]})
    assert response.status_code == 422
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    problem = response.json
    assert problem["type"] == "urn:erlen:problem:validation"
    assert problem["status"] == 422
    assert problem["instance"] == "/api/v1/items"
    assert [(e["location"], e["pointer"], e["type"]) for e in problem["errors"]] == [
        ("body", "#/name", "string_too_short"),
        ("body", "#/quantity", "greater_than_equal"),
        ("body", "#/tags/1", "string_type"),
    ]
    assert all(e["detail"] for e in problem["errors"])


def test_a_missing_field_and_a_missing_body(client: t.Any) -> None:
    missing_field = client.post("/api/v1/items", json={"name": "pen"}).json
    assert [(e["pointer"], e["type"]) for e in missing_field["errors"]] == [("#/quantity", "missing")]
    no_body = client.post("/api/v1/items")
    assert no_body.status_code == 422
    assert no_body.json["errors"] == [
        {"detail": "A JSON body is required.", "location": "body", "pointer": "#", "type": "missing"}
    ]


def test_unparseable_json_is_a_400(client: t.Any) -> None:
    response = client.post("/api/v1/items", data=b'{"name": "pen",', content_type="application/json")
    assert response.status_code == 400
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    assert response.json["type"] == "urn:erlen:problem:invalid-json"
    assert response.json["detail"].startswith("The body is not valid JSON")


def test_a_body_of_another_media_type_is_a_415(client: t.Any) -> None:
    response = client.post("/api/v1/items", data={"name": "pen"})
    assert response.status_code == 415
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    assert "application/x-www-form-urlencoded" in response.json["detail"]


def test_a_json_suffix_media_type_is_json(client: t.Any) -> None:
    response = client.post(
        "/api/v1/items", data=b'{"name":"pen","quantity":1}', content_type="application/merge-patch+json"
    )
    assert response.status_code == 201


def test_a_body_over_the_limit_is_a_413_problem(app: Flask, client: t.Any) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 100
    response = client.post("/api/v1/items", json={"name": "x" * 200, "quantity": 1})
    assert response.status_code == 413
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    assert response.json["title"] == "Request Entity Too Large"
    assert (
        response.json["detail"] == "The body is larger than the 100 bytes this endpoint accepts: send less at a time."
    )
    assert response.json["max_size"] == 100


def test_dataclass_typeddict_and_list_bodies(client: t.Any) -> None:
    assert client.post("/api/v1/points", json={"x": 1, "y": 2.5}).json == {"x": 2.0, "y": 3.5}
    assert client.post("/api/v1/greetings", json={"name": "ada"}).json == {"name": "Ada", "polite": True}
    assert client.post("/api/v1/numbers", json=[1, 2, 3]).json == 6
    problem = client.post("/api/v1/greetings", json={"polite": "very"}).json
    assert sorted((e["pointer"], e["type"]) for e in problem["errors"]) == [
        ("#/name", "missing"),
        ("#/polite", "bool_parsing"),
    ]
    assert client.post("/api/v1/numbers", json=[1, "x"]).json["errors"][0]["pointer"] == "#/1"


def test_query_parameters_scalars_renamed_and_optional(client: t.Any) -> None:
    assert client.get("/api/v1/search?q=pen").json == {"q": "pen", "when": None, "n": 5}
    assert client.get("/api/v1/search?q=pen&when=2026-12-02&max-results=9").json == {
        "q": "pen",
        "when": "2026-12-02",
        "n": 9,
    }
    problem = client.get("/api/v1/search?when=yesterday&max-results=x").json
    assert problem["status"] == 422
    assert sorted((e["location"], e["parameter"], e["type"]) for e in problem["errors"]) == [
        ("query", "max-results", "int_parsing"),
        ("query", "q", "missing"),
        ("query", "when", "date_from_datetime_parsing"),
    ]


def test_a_query_model_with_repeated_parameters_and_an_enum(client: t.Any) -> None:
    assert [row["id"] for row in client.get("/api/v1/items?limit=3").json] == [1, 2, 3]
    assert [row["id"] for row in client.get("/api/v1/items?tag=4&tag=9").json] == [4, 9]
    assert client.get("/api/v1/items?colour=red").status_code == 200
    problem = client.get("/api/v1/items?limit=0&colour=blue").json
    assert sorted((e["parameter"], e["type"]) for e in problem["errors"]) == [
        ("colour", "enum"),
        ("limit", "greater_than_equal"),
    ]


def test_a_parameter_of_one_value_given_twice_is_a_422_naming_it(app: Flask) -> None:
    """?limit=1&limit=500 was read as 1 (Werkzeug keeps the first), silently; a proxy keeping the last saw 500."""
    from erlen_api.testing import api_client_for

    client = api_client_for(app)  # the 422 is checked against the document
    for url, key in (
        ("/api/v1/items?limit=1&limit=50", "limit"),  # a field of a query model
        ("/api/v1/search?q=pen&q=ink", "q"),  # a scalar parameter
        ("/api/v1/search?q=pen&max-results=1&max-results=2&max-results=3", "max-results"),
    ):
        response = client.get(url)
        assert response.status_code == 422, (url, response.data)
        problem = response.json
        count = url.count(f"{key}=")
        assert problem["errors"] == [
            {
                "detail": f"The parameter {key!r} takes one value; the request gives it {count} times: send it once.",
                "location": "query",
                "parameter": key,
                "type": "repeated_parameter",
            }
        ]
    # A list parameter takes several, as before.
    assert [row["id"] for row in client.get("/api/v1/items?tag=4&tag=9&limit=5").json] == [4, 9]


def test_path_parameters_are_converted_by_their_type_hint(client: t.Any) -> None:
    assert client.get("/api/v1/codes/42").json == {"code": 42}
    problem = client.get("/api/v1/codes/abc").json
    assert problem["status"] == 422
    assert problem["errors"] == [
        {
            "detail": "Input should be a valid integer, unable to parse string as an integer",
            "location": "path",
            "parameter": "code",
            "type": "int_parsing",
        }
    ]


def test_errors_of_every_location_are_reported_together(app: Flask, client: t.Any) -> None:
    response = client.put("/api/v1/things/3", json={"name": ""})
    assert {(e["location"], e.get("pointer")) for e in response.json["errors"]} == {
        ("body", "#/name"),
        ("body", "#/quantity"),
    }


def test_class_based_views(client: t.Any) -> None:
    assert client.get("/api/v1/things/4?verbose=true").json == {"id": 4, "name": "thing!", "quantity": 0}
    assert client.put("/api/v1/things/4", json={"name": "cup", "quantity": 1}).json == {
        "id": 4,
        "name": "cup",
        "quantity": 1,
    }
    deleted = client.delete("/api/v1/things/4")
    assert deleted.status_code == 204 and deleted.data == b""
    assert client.head("/api/v1/things/4").status_code == 200
    assert client.post("/api/v1/counter?amount=5").json == {"value": 15}
    assert client.post("/api/v1/counter").json == {"value": 11}


def test_json_pointers_escape_slashes_and_tildes() -> None:
    assert json_pointer(["a/b", "m~n", 0]) == "#/a~1b/m~0n/0"
    assert json_pointer([]) == "#"


def test_a_view_parameter_without_a_type_is_refused() -> None:
    api = Api("bad", __name__)
    with pytest.raises(TypeError, match="'thing' has no type hint"):

        @api.get("/bad")
        def bad(thing) -> None:  # type: ignore[no-untyped-def]
            pass


def test_a_view_must_take_the_rule_variables_and_have_one_body() -> None:
    api = Api("bad", __name__)
    with pytest.raises(TypeError, match="does not take the URL rule's variables: id"):

        @api.get("/bad/<int:id>")
        def bad() -> None:
            pass

    with pytest.raises(TypeError, match="has two bodies"):

        @api.post("/two")
        def two(a: dict[str, int], b: list[dict[str, int]]) -> None:
            pass


class _Reading(BaseModel):
    value: float
    extra: list[float] = []


def test_numbers_json_cannot_carry_are_refused(make_app: t.Any, client: t.Any) -> None:
    """NaN, the infinities and numbers beyond a float's range are no JSON numbers: a body holding them is refused
    (422) rather than passed to the view, whose answer JSON cannot hold them (``null``, or a 500 where answers
    are checked)."""
    for body, pointer in (
        (b'{"x": NaN, "y": 1}', "#/x"),
        (b'{"x": 1, "y": -Infinity}', "#/y"),
        (b'{"x": 1e400, "y": 1}', "#/x"),
    ):
        refused = client.post("/api/v1/points", data=body, content_type="application/json")
        assert refused.status_code == 422, refused.data
        assert [(e["pointer"], e["type"]) for e in refused.json["errors"]] == [(pointer, "finite_number")]
    assert client.post("/api/v1/points", json={"x": 1.5, "y": -1e300}).json == {"x": 2.5, "y": -1e300}
    assert client.post("/api/v1/points", json={"x": 1e-400, "y": 0}).json == {"x": 1.0, "y": 1.0}

    api = Api("floats", __name__, version="v9")
    seen: list[_Reading] = []

    @api.post("/readings")
    def reading(body: _Reading) -> dict[str, float]:
        seen.append(body)
        return {"value": body.value}

    app = make_app(["api"], {})
    app.register_blueprint(api)
    floats = app.test_client()
    nested = floats.post(
        "/api/v9/readings", data=b'{"value": 1, "extra": [2, NaN, 1E+999]}', content_type="application/json"
    )
    assert [(e["pointer"], e["type"]) for e in nested.json["errors"]] == [
        ("#/extra/1", "finite_number"),
        ("#/extra/2", "finite_number"),
    ]
    assert seen == []
    # A string that looks like a large exponent is text, not a number.
    assert floats.post("/api/v9/readings", json={"value": 2, "note": "e999 NaN"}).json == {"value": 2.0}
    assert floats.post("/api/v9/readings", json={"value": 1e300, "extra": []}).json == {"value": 1e300}


class _Text(BaseModel):
    text: str


def _text_app(make_app: t.Any, config: dict[str, t.Any]) -> t.Any:
    api = Api("bodies", __name__, version="v9")

    @api.post("/texts")
    def texts(body: _Text) -> dict[str, int]:
        return {"length": len(body.text)}

    app = make_app(["api"], config)
    app.register_blueprint(api)
    return app.test_client()


def test_a_body_over_the_limit_is_refused_before_it_is_read(make_app: t.Any) -> None:
    """Without erlen-forms no MAX_CONTENT_LENGTH is set: the API's own limit keeps a body from filling memory."""
    client = _text_app(make_app, {})
    assert client.post("/api/v9/texts", json={"text": "a" * 1_000_000}).json == {"length": 1_000_000}
    refused = client.post("/api/v9/texts", json={"text": "a" * 1_048_577})  # 1 MiB is the default
    assert refused.status_code == 413 and refused.mimetype == "application/problem+json"

    client = _text_app(make_app, {"API_MAX_BODY_SIZE": 1000})
    assert client.post("/api/v9/texts", json={"text": "a" * 900}).json == {"length": 900}
    assert client.post("/api/v9/texts", json={"text": "a" * 1000}).status_code == 413
    # A chunked body has no Content-Length to refuse: it is cut off at the limit.
    chunked = client.post(
        "/api/v9/texts",
        input_stream=io.BytesIO(json.dumps({"text": "a" * 5000}).encode()),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert chunked.status_code == 413 and chunked.mimetype == "application/problem+json"
    assert (chunked.json["max_size"], refused.json["max_size"]) == (1000, 1_048_576)
    exactly = json.dumps({"text": "a" * 988}).encode()
    assert len(exactly) == 1000
    whole = client.post(
        "/api/v9/texts",
        input_stream=io.BytesIO(exactly),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert whole.json == {"length": 988}

    # The app's own lower limit still applies; None leaves only the app's.
    lower = _text_app(make_app, {"API_MAX_BODY_SIZE": 1000, "MAX_CONTENT_LENGTH": 500})
    assert lower.post("/api/v9/texts", json={"text": "a" * 600}).status_code == 413
    unlimited = _text_app(make_app, {"API_MAX_BODY_SIZE": None})
    assert unlimited.post("/api/v9/texts", json={"text": "a" * 2_000_000}).json == {"length": 2_000_000}


@pytest.mark.parametrize(
    "number",
    [
        b"1" + b"0" * 400,  # an integer beyond a float's range: infinite as a float
        b"1" + b"0" * 400 + b".5",  # no exponent at all
        b"-1" + b"0" * 300 + b"e99",  # an exponent of two digits, the rest in the digits before it
    ],
    ids=["integer", "without-exponent", "small-exponent"],
)
def test_numbers_beyond_a_floats_range_are_refused_however_they_are_written(client: t.Any, number: bytes) -> None:
    """The hint choosing the bodies to look at again must not miss a number that overflows without a large
    exponent: it would reach the view as an infinite float."""
    refused = client.post("/api/v1/points", data=b'{"x": 1, "y": ' + number + b"}", content_type="application/json")
    assert refused.status_code == 422, refused.data
    assert [(e["pointer"], e["type"]) for e in refused.json["errors"]] == [("#/y", "finite_number")]


def test_a_body_with_a_number_json_cannot_carry_lists_its_other_errors_too(client: t.Any) -> None:
    """A 422 lists every error of the inputs: a NaN does not hide the body's other invalid field."""
    refused = client.post("/api/v1/points", data=b'{"x": NaN, "y": "abc"}', content_type="application/json")
    assert refused.status_code == 422, refused.data
    assert [(e["pointer"], e["type"]) for e in refused.json["errors"]] == [
        ("#/x", "finite_number"),
        ("#/y", "float_parsing"),
    ]


def _many(key: str, count: int) -> str:
    return "&".join(f"{key}={n}" for n in range(count))


def test_a_repeated_query_parameter_takes_at_most_api_max_filter_values(make_app: t.Any) -> None:
    """A list parameter's values are capped before they are validated or reach the view (and its database)."""
    from api_sample.shapes import api

    direct = Api("direct", version="v2")

    @direct.get("/ids")
    def ids(id: list[int] | None = None) -> list[int]:
        return id or []

    app = make_app(["api"], {"API_MAX_FILTER_VALUES": 3})
    app.register_blueprint(api)
    app.register_blueprint(direct)
    client = app.test_client()
    assert client.get("/api/v2/ids?" + _many("id", 3)).json == [0, 1, 2]
    assert [row["id"] for row in client.get("/api/v1/items?tag=4&tag=9&tag=11").json] == [4, 9, 11]
    for url, key in (("/api/v2/ids?", "id"), ("/api/v1/items?limit=0&", "tag")):
        response = client.get(url + _many(key, 20000))
        assert (response.status_code, response.mimetype) == (422, PROBLEM_MEDIA_TYPE)
        errors = [error for error in response.json["errors"] if error["parameter"] == key]
        assert errors == [
            {
                "detail": f"At most 3 values of '{key}' are accepted; the request has 20000.",
                "location": "query",
                "parameter": key,
                "type": "too_many_values",
            }
        ]
    # The other parameters' errors are listed with it.
    assert [e["parameter"] for e in client.get("/api/v1/items?limit=0&" + _many("tag", 4)).json["errors"]] == [
        "tag",
        "limit",
    ]
    # The OpenAPI document says so.
    parameters = client.get("/api/openapi.json").json["paths"]["/api/v2/ids"]["get"]["parameters"]
    assert [parameter["schema"].get("maxItems") for parameter in parameters if parameter["in"] == "query"] == [3]


@pytest.mark.parametrize("value", [0, -1, "many"])
def test_api_max_filter_values_is_checked_at_start_up(make_app: t.Any, value: t.Any) -> None:
    import erlen

    with pytest.raises(erlen.ConfigError, match="API_MAX_FILTER_VALUES"):
        make_app(["api"], {"API_MAX_FILTER_VALUES": value})


class _Priced(BaseModel):
    price: float
    cost: decimal.Decimal | None = None
    label: str = ""
    readings: list[float] = []


class _Window(BaseModel):
    low: float = 0.0
    tags: list[str] = []


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "+Infinity", "-INFINITY", "1e400", "\u006ean"])
def test_strings_read_as_non_finite_numbers_are_refused_like_json_nan(make_app: t.Any, text: str) -> None:
    """pydantic's lax mode reads "nan", "inf" and "1e400" as floats (and "NaN", "Infinity" as Decimals): they are
    the body's and the query's ``finite_number`` errors, with their places, never the view's values."""
    api = Api("lax", version="v8")
    seen: list[t.Any] = []

    @api.post("/prices")
    def prices(body: _Priced) -> dict[str, str]:
        seen.append(body)
        return {"label": body.label}

    @api.get("/search")
    def search(
        window: t.Annotated[_Window, Query()],
        above: float | None = None,
        at_most: t.Annotated[decimal.Decimal | None, Query(name="at-most")] = None,
        near: list[float] | None = None,
    ) -> dict[str, t.Any]:
        seen.append((window, above, at_most, near))
        return {}

    @api.get("/ratios/<ratio>")
    def ratio(ratio: float) -> dict[str, float]:
        seen.append(ratio)
        return {"ratio": ratio}

    app = make_app(["api"], {})
    app.register_blueprint(api)
    client = app.test_client()

    def errors(response: t.Any) -> list[tuple[str, str | None, str]]:
        assert (response.status_code, response.mimetype) == (422, PROBLEM_MEDIA_TYPE), response.data
        return [(e["location"], e.get("pointer") or e.get("parameter"), e["type"]) for e in response.json["errors"]]

    # The escape reaches the body as it is: "\u006ean" spells "nan".
    encoded = json.dumps(text) if text != "\u006ean" else '"\\u006ean"'
    body = f'{{"price": {encoded}, "label": {encoded}, "readings": [1, {encoded}]}}'.encode()
    assert errors(client.post("/api/v8/prices", data=body, content_type="application/json")) == [
        ("body", "#/price", "finite_number"),
        ("body", "#/readings/1", "finite_number"),
    ]
    decimal_text = {"nan": "NaN", "inf": "Infinity", "1e400": "sNaN"}.get(text, text)
    assert errors(client.post("/api/v8/prices", json={"price": 1, "cost": decimal_text})) == [
        ("body", "#/cost", "finite_number")
    ]
    query = {"above": text, "at-most": decimal_text, "near": ["1", text], "low": text, "tags": text}
    assert sorted(errors(client.get("/api/v8/search", query_string=query))) == [
        ("query", "above", "finite_number"),
        ("query", "at-most", "finite_number"),
        ("query", "low", "finite_number"),
        ("query", "near", "finite_number"),
    ]
    assert errors(client.get(f"/api/v8/ratios/{text}")) == [("path", "ratio", "finite_number")]
    assert seen == []
    # Text stays text, and finite numbers in strings are numbers.
    assert client.post("/api/v8/prices", json={"price": "1.5", "label": text, "cost": "2.50"}).json == {"label": text}
    assert client.get("/api/v8/search", query_string={"above": "1e300", "tags": text}).status_code == 200


@pytest.mark.parametrize(
    ("encoding", "named"), [("utf-8-sig", "UTF-8"), ("utf-16", "UTF-16"), ("utf-16-be", None), ("utf-32", "UTF-32")]
)
def test_a_body_with_a_byte_order_mark_gets_a_400_saying_so(client: t.Any, encoding: str, named: str | None) -> None:
    """JSON must not start with a byte order mark (RFC 8259): the 400 said "expected value at line 1 column 1",
    a character the client never sees; it now names the mark and what to send."""
    body = json.dumps({"x": 1, "y": 2}).encode(encoding)
    refused = client.post("/api/v1/points", data=body, content_type="application/json")
    assert (refused.status_code, refused.mimetype) == (400, PROBLEM_MEDIA_TYPE), refused.data
    assert refused.json["type"] == "urn:erlen:problem:invalid-json"
    if named is None:  # no mark to name: pydantic's own message
        assert "byte order mark" not in refused.json["detail"]
    else:
        assert refused.json["detail"] == (
            f"The body is not valid JSON: it starts with a {named} byte order mark. Send it in UTF-8, without a "
            "byte order mark."
        )


class _Measured(BaseModel):
    price: float
    count: int = 0
    cost: decimal.Decimal | None = None
    readings: list[float] = []
    ratio: float | int = 1
    label: str = ""
    tags: list[str] = []


def test_a_string_read_as_nan_is_listed_with_the_bodys_other_errors(make_app: t.Any) -> None:
    """A "nan" for a number field and another invalid field: the 422 lists both at once, not the "nan" only once
    the client has fixed the other field (strings of text fields that merely read so stay text)."""
    api = Api("together", version="v8")
    seen: list[_Measured] = []

    @api.post("/measures")
    def measures(body: _Measured) -> dict[str, str]:
        seen.append(body)
        return {"label": body.label}

    app = make_app(["api"], {})
    app.register_blueprint(api)
    client = app.test_client()
    body = {
        "price": "nan",
        "count": "many",
        "cost": "-Infinity",
        "readings": [1, "inf", "x"],
        "ratio": "1e400",
        "label": "nan",
        "tags": ["inf"],
    }
    refused = client.post("/api/v8/measures", json=body)
    assert (refused.status_code, refused.mimetype) == (422, PROBLEM_MEDIA_TYPE), refused.data
    assert sorted((e["pointer"], e["type"]) for e in refused.json["errors"]) == [
        ("#/cost", "finite_number"),
        ("#/count", "int_parsing"),
        ("#/price", "finite_number"),
        ("#/ratio", "finite_number"),
        ("#/readings/1", "finite_number"),
        ("#/readings/2", "float_parsing"),
    ]
    assert refused.json["detail"] == "The request has 6 invalid inputs."
    # With the other errors fixed, the same "nan" errors, and nothing new.
    body.update(count=1, readings=[1, "inf"])
    assert sorted(e["pointer"] for e in client.post("/api/v8/measures", json=body).json["errors"]) == [
        "#/cost",
        "#/price",
        "#/ratio",
        "#/readings/1",
    ]
    assert seen == []


class _Cat(BaseModel):
    kind: t.Literal["cat"]
    weight: float


class _Dog(BaseModel):
    kind: t.Literal["dog"]
    name: str


class _Pets(BaseModel):
    ratio: float | int = 1
    pet: _Cat | _Dog | None = None
    tagged: t.Annotated[_Cat | _Dog, Field(discriminator="kind")] | None = None
    codes: list[int | str] = []


def test_the_errors_of_a_union_point_at_places_the_body_has(make_app: t.Any) -> None:
    """pydantic names the member a union tried in its error's location (ratio.float, pet.Cat.weight): the
    pointers were #/ratio/float and #/pet/Cat/weight, places no client's document has. They are the JSON's own
    now, with a missing field's place kept, and a "nan" of a union's float member listed with the rest."""
    api = Api("unions", version="v8")

    @api.post("/pets")
    def pets(body: _Pets) -> dict[str, str]:
        return {}

    app = make_app(["api"], {})
    app.register_blueprint(api)
    client = app.test_client()

    def pointers(body: dict[str, t.Any]) -> list[tuple[str, str]]:
        refused = client.post("/api/v8/pets", json=body)
        assert (refused.status_code, refused.mimetype) == (422, PROBLEM_MEDIA_TYPE), refused.data
        return sorted((e["pointer"], e["type"]) for e in refused.json["errors"])

    assert pointers({"ratio": "x", "codes": [[1]]}) == [
        ("#/codes/0", "int_type"),
        ("#/codes/0", "string_type"),
        ("#/ratio", "float_parsing"),
        ("#/ratio", "int_parsing"),
    ]
    assert pointers({"pet": {"kind": "cat"}, "tagged": {"kind": "cat", "weight": "heavy"}}) == [
        ("#/pet/kind", "literal_error"),
        ("#/pet/name", "missing"),
        ("#/pet/weight", "missing"),
        ("#/tagged/weight", "float_parsing"),
    ]
    assert pointers({"pet": 5, "tagged": {"kind": "cat", "weight": "nan"}, "ratio": "inf"}) == [
        ("#/pet", "model_type"),
        ("#/pet", "model_type"),
        ("#/ratio", "finite_number"),
        ("#/tagged/weight", "finite_number"),
    ]


class _Titled(BaseModel):
    title: str
    tags: list[str] = []


def test_the_strings_of_a_body_without_number_fields_are_not_parsed_again(
    make_app: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a float or Decimal field reads "nan" or "inf" from text: a body of other fields whose text merely
    contains them ("maintenance info", an escaped character) is parsed once, as before the check existed."""
    endpoint = importlib.import_module("erlen_api.endpoint")  # erlen_api.endpoint is also a decorator's name
    parsed_again: list[bytes] = []
    json_leaves = endpoint._json_leaves
    monkeypatch.setattr(endpoint, "_json_leaves", lambda data: parsed_again.append(data) or json_leaves(data))
    api = Api("texts", version="v9")

    @api.post("/notes")
    def notes(body: _Window) -> dict[str, int]:
        return {"tags": len(body.tags)}

    @api.post("/plain")
    def plain(body: _Titled) -> dict[str, str]:
        return {"title": body.title}

    app = make_app(["api"], {})
    app.register_blueprint(api)
    client = app.test_client()
    body = {"title": "maintenance info: caf\u00e9 closed", "tags": ["inf", "nan"]}
    assert client.post("/api/v9/plain", data=json.dumps(body), content_type="application/json").json == {
        "title": body["title"]
    }
    assert parsed_again == []
    # A type with a float field still has its strings looked at.
    assert client.post("/api/v9/notes", json={"low": "nan"}).status_code == 422
    assert len(parsed_again) == 1


def test_a_required_list_parameter_with_too_many_values_is_not_also_missing(make_app: t.Any) -> None:
    """The values over API_MAX_FILTER_VALUES are refused, not dropped: the 422 says too many, not "missing"
    for a parameter the request gave (the values up to the limit are still validated, and their errors listed)."""
    api = Api("capped", version="v3")

    @api.get("/ids")
    def ids(id: list[int]) -> list[int]:
        return id

    app = make_app(["api"], {"API_MAX_FILTER_VALUES": 3})
    app.register_blueprint(api)
    client = app.test_client()
    response = client.get("/api/v3/ids?" + _many("id", 4))
    assert response.status_code == 422
    assert [(e["parameter"], e["type"]) for e in response.json["errors"]] == [("id", "too_many_values")]
    response = client.get("/api/v3/ids?id=1&id=x&id=3&id=4")
    assert [(e["parameter"], e["type"]) for e in response.json["errors"]] == [
        ("id", "too_many_values"),
        ("id", "int_parsing"),
    ]


class _Line(BaseModel):
    name: str
    quantity: int = 1


class _Order(BaseModel):
    title: str
    items: list[_Line] = []


@pytest.mark.parametrize(
    ("body", "key", "path", "pointer"),
    [
        (b'{"title": "a", "title": "b"}', "title", "title", "#/title"),
        (
            b'{"title": "a", "items": [{"name": "x"}, {"name": "y"}, {"name": "z", "name": "w"}]}',
            "name",
            "items[2].name",
            "#/items/2/name",
        ),
        # Spelled with an escape, the same key; and invalid besides (quantity): the 400 comes first.
        (
            b'{"title": "a", "items": [{"name": "x", "quantity": "many", "n\\u0061me": "y"}]}',
            "name",
            "items[0].name",
            "#/items/0/name",
        ),
    ],
)
def test_a_body_with_a_key_twice_in_one_object_is_a_400_naming_it(
    make_app: t.Any, body: bytes, key: str, path: str, pointer: str
) -> None:
    """pydantic keeps the last of a repeated key: {"title": "a", "title": "b"} reached the view as "b", silently,
    and a proxy reading the first saw another request than the app. Refused, with the key and its place."""
    api = Api("orders", version="v9")
    seen: list[_Order] = []

    @api.post("/orders", status=201)
    def create_order(order: _Order) -> dict[str, int]:
        seen.append(order)
        return {"items": len(order.items)}

    app = make_app(["api"], {})
    app.register_blueprint(api)
    from erlen_api.testing import api_client_for

    client = api_client_for(app)  # the 400 is checked against the OpenAPI document
    refused = client.post("/api/v9/orders", data=body, content_type="application/json")
    assert (refused.status_code, refused.mimetype) == (400, PROBLEM_MEDIA_TYPE), refused.data
    problem = refused.json
    assert problem["type"] == "urn:erlen:problem:invalid-json"
    assert problem["detail"] == (
        f'The body has the key "{key}" twice in one object, at {path}: send each key once (which of the values '
        "was meant cannot be told)."
    )
    assert problem["pointer"] == pointer
    assert seen == []
    # The same keys in different objects are no repetition.
    fine = client.post("/api/v9/orders", json={"title": "a", "items": [{"name": "x"}, {"name": "y", "quantity": 2}]})
    assert (fine.status_code, fine.json) == (201, {"items": 2})


class _Readings(BaseModel):
    labels: list[str] = []
    values: list[float] = []


def test_a_422_lists_the_first_hundred_errors_and_counts_the_rest(make_app: t.Any) -> None:
    """A body of 1 MiB holding half a million invalid items was answered with every error: 54 MB and seconds of
    work for one request. The answer lists the first 100, and says how many there are."""
    from erlen_api.endpoint import MAX_LISTED_ERRORS

    api = Api("many", version="v9")

    @api.post("/readings")
    def readings(body: _Readings) -> dict[str, int]:
        return {"labels": len(body.labels)}

    app = make_app(["api"], {})
    app.register_blueprint(api)
    from erlen_api.testing import api_client_for

    client = api_client_for(app)  # checked against the document
    for body, pointer, kind in (
        ({"labels": [1] * 1000}, "#/labels/{}", "string_type"),
        ({"values": [float("nan")] * 1000}, "#/values/{}", "finite_number"),
        ({"values": ["nan"] * 1000}, "#/values/{}", "finite_number"),  # text read as NaN, in a valid body
    ):
        data = json.dumps(body).encode()  # NaN as JSON's extension, NaN
        refused = client.post("/api/v9/readings", data=data, content_type="application/json")
        assert refused.status_code == 422, refused.data[:300]
        problem = refused.json
        assert (
            problem["detail"]
            == "The request has 1000 invalid inputs. The first 100 are listed: fix them, and send it again."
        )
        assert len(problem["errors"]) == MAX_LISTED_ERRORS == 100
        assert [(e["pointer"], e["type"]) for e in problem["errors"]] == [(pointer.format(i), kind) for i in range(100)]
    # At the limit, every error and the plain detail.
    exactly = client.post("/api/v9/readings", json={"labels": [1] * 100}).json
    assert exactly["detail"] == "The request has 100 invalid inputs." and len(exactly["errors"]) == 100


def test_a_body_whose_chunks_are_malformed_is_a_400_under_gunicorn(tmp_path: t.Any) -> None:
    """gunicorn raises InvalidChunkSize or ChunkMissingTerminator from the read of a malformed chunked body:
    erlen-api's read of the body let them through, a 500 for the client's framing."""
    import os
    from pathlib import Path

    from erlen.testing import exchange_raw, gunicorn_serving

    pytest.importorskip("gunicorn", reason="the test serves the app with gunicorn, which this environment lacks")
    tests = Path(__file__).parent
    head = (
        b"POST /api/v1/items HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tests)}
    with gunicorn_serving("api_sample.served:app", chdir=tests, log=tmp_path / "gunicorn.log", env=env) as port:
        status, _ = exchange_raw(port, head + b'1b\r\n{"name":"pen","quantity":2}\r\n0\r\n\r\n')
        assert status == 201  # valid chunks are read
        for chunks in (b"zz\r\nabc\r\n0\r\n\r\n", b'1b\r\n{"name":"pen","quantity":2}XX0\r\n\r\n'):
            status, body = exchange_raw(port, head + chunks)
            assert status == 400, body
            problem = json.loads(body)
            assert problem["detail"].startswith("The body could not be read: its chunked transfer coding is malformed")
