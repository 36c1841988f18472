"""Duplicate keys in JSON bodies: found at any depth, in the order of the text, named by their place."""

from __future__ import annotations

import typing as t

import pytest

from erlen_api.json_keys import duplicate_key, json_path


@pytest.mark.parametrize(
    ("body", "place"),
    [
        (b'{"title": "a", "title": "b"}', ("title",)),
        (b'{"items": [{"name": "a"}, {"name": "b"}, {"name": "c", "qty": 1, "name": "d"}]}', ("items", 2, "name")),
        (b'[{"id": 1}, {"id": 2, "id": 3}]', (1, "id")),
        (b'{"a": {"b": {"c": {"d": 1, "d": 2}}}}', ("a", "b", "c", "d")),
        # The same key once written with an escape: the same key once read.
        (b'{"title": "a", "t\\u0069tle": "b"}', ("title",)),
        (b'{"first name": 1, "first name": 2}', ("first name",)),
        # The first in the body's order: the inner object's key is written before the outer's second "a".
        (b'{"a": {"x": 1, "x": 2}, "a": 3}', ("a", "x")),
        (b'{"a": 1, "a": {"x": 1, "x": 2}}', ("a",)),
        # NaN and integers of more digits than int() reads (4,300: pydantic refuses more) do not hide the key.
        (b'{"n": NaN, "m": ' + b"9" * 4300 + b', "n": 1}', ("n",)),
    ],
)
def test_a_key_written_twice_in_one_object_is_found_with_its_place(body: bytes, place: tuple[str | int, ...]) -> None:
    assert duplicate_key(body) == place


@pytest.mark.parametrize(
    "body",
    [
        b'{"title": "a", "body": "b"}',
        b'[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]',  # the same keys in different objects
        b'{"a": {"a": {"a": 1}}}',
        # Strings that look like keys inside values: a ":" after a value's closing quote is no key.
        b'{"text": "\\"title\\": 1, \\"title\\": 2"}',
        b'{"a": "x", "b": ["\\"a\\":"]}',
        b"{}",
        b"[]",
        b'"title"',
        b"not json at all",
    ],
)
def test_bodies_without_a_repeated_key_pass(body: bytes) -> None:
    assert duplicate_key(body) is None


def test_json_paths_are_written_as_people_write_them() -> None:
    assert json_path(("items", 2, "name")) == "items[2].name"
    assert json_path((0, "id")) == "[0].id"
    assert json_path(("first name", "x")) == '["first name"].x'
    assert json_path(("a.b",)) == '["a.b"]'


def test_a_key_repeated_as_deep_as_pydantic_reads_is_found() -> None:
    """jiter's depth limit must be pydantic's: a body pydantic validates but the check cannot read would pass
    unchecked (the check answers None for what it cannot read, leaving the verdict to pydantic's parse)."""
    from pydantic import TypeAdapter, ValidationError

    deepest = 0
    for depth in range(150, 400):
        try:
            TypeAdapter(t.Any).validate_json(b'{"a":' * depth + b"1" + b"}" * depth)
        except ValidationError:
            break
        deepest = depth
    body = b'{"a":' * (deepest - 1) + b'{"x": 1, "x": 2}' + b"}" * (deepest - 1)
    assert duplicate_key(body) == ("a",) * (deepest - 1) + ("x",)
