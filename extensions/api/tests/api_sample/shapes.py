"""An API without database or accounts: every kind of input and output the endpoints declare."""

from __future__ import annotations

import datetime
import enum
import typing as t
from dataclasses import dataclass
from typing import NotRequired

from flask import Response, jsonify
from flask.views import MethodView
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

import erlen_api
from erlen_api import Api, Body, Path, Query


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    quantity: int = Field(ge=0)
    tags: list[str] = []


class ItemOut(BaseModel):
    id: int
    name: str
    quantity: int


@dataclass
class Point:
    x: float
    y: float


class Greeting(TypedDict):  # typing_extensions: pydantic needs it before Python 3.12
    name: str
    polite: NotRequired[bool]


class Page(BaseModel):
    limit: int = Field(default=10, ge=1, le=100)
    tag: list[str] = []


class Row:
    """An object with attributes, as an ORM row is."""

    def __init__(self, id: int, name: str, quantity: int) -> None:
        self.id, self.name, self.quantity = id, name, quantity


api = Api("shapes", __name__, version="v1", description="Shapes of inputs and outputs.")


@api.post("/items", status=201)
def create_item(item: Item) -> ItemOut:
    """Create an item.

    Takes an item, answers it with an id.
    """
    return ItemOut(id=1, name=item.name, quantity=item.quantity)


@api.get("/items/<int:id>", responses={404: "No such item"})
def read_item(id: int) -> ItemOut:
    """Read an item (an object with attributes, validated into the response type)."""
    if id != 1:
        erlen_api.abort(404, f"No item {id}.")
    return t.cast(ItemOut, Row(1, "pen", 3))


@api.get("/items")
def list_items(page: t.Annotated[Page, Query()], colour: Colour | None = None) -> list[ItemOut]:
    """List items, with paging and filters in the query string."""
    rows = [ItemOut(id=i, name=f"item {i}", quantity=i) for i in range(1, 200)]
    rows = [row for row in rows if not page.tag or str(row.id) in page.tag]
    return rows[: page.limit]


@api.get("/search")
def search(
    q: str, when: datetime.date | None = None, n: t.Annotated[int, Query(name="max-results")] = 5
) -> dict[str, t.Any]:
    """Scalar query parameters: required, optional, renamed."""
    return {"q": q, "when": when.isoformat() if when else None, "n": n}


@api.post("/points")
def add_point(point: Point) -> Point:
    """A dataclass body and response."""
    return Point(point.x + 1, point.y + 1)


@api.post("/greetings")
def greet(greeting: Greeting) -> Greeting:
    """A TypedDict body and response."""
    return {"name": greeting["name"].title(), "polite": greeting.get("polite", True)}


@api.post("/numbers")
def total(numbers: t.Annotated[list[int], Body(description="Numbers to add.")]) -> int:
    """A body of a list of numbers."""
    return sum(numbers)


@api.get("/codes/<code>")
def code(code: t.Annotated[int, Path(description="A number in a string segment.")]) -> dict[str, int]:
    """A path parameter converted by its type hint rather than the rule."""
    return {"code": code}


@api.delete("/items/<int:id>")
def delete_item(id: int) -> None:
    """Delete an item: no body."""


@api.get("/wrong")
def wrong() -> ItemOut:
    """Returns what its type does not describe."""
    return t.cast(ItemOut, {"id": "not a number", "name": "x", "quantity": 1})


@api.get("/constructed")
def constructed() -> ItemOut:
    """Returns a model built without validation, which does not fit its own type."""
    return ItemOut.model_construct(id="seven", name="x", quantity=1)  # type: ignore[arg-type]


@api.get("/crash")
def crash() -> dict[str, str]:
    """Raises an unexpected error."""
    raise RuntimeError("secret detail that must not leak")


@api.get("/flask-response")
def flask_response() -> Response:
    """A Flask response passes through."""
    return jsonify(raw=True)


@api.get("/untyped")
def untyped():  # type: ignore[no-untyped-def]
    """No return type: any JSON-serialisable value, with a status and headers."""
    return {"ok": True}, 202, {"X-Extra": "yes"}


@api.route("/things/<int:id>")
class ThingView(MethodView):
    """A class-based view: each method declares its own types."""

    def get(self, id: int, verbose: bool = False) -> ItemOut:
        """Read a thing."""
        return ItemOut(id=id, name="thing" + ("!" if verbose else ""), quantity=0)

    @erlen_api.endpoint(status=200, summary="Replace a thing")
    def put(self, id: int, item: Item) -> ItemOut:
        return ItemOut(id=id, name=item.name, quantity=item.quantity)

    def delete(self, id: int) -> None:
        """Delete a thing."""


class CounterView(MethodView):
    """A class view registered with as_view and constructor arguments."""

    def __init__(self, start: int) -> None:
        self.start = start

    def post(self, amount: t.Annotated[int, Query()] = 1) -> dict[str, int]:
        return {"value": self.start + amount}


api.add_url_rule("/counter", view_func=CounterView.as_view("counter", 10))
