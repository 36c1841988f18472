"""Keys a JSON document holds twice, found in the document's order and said where."""

from __future__ import annotations

import json

import pytest

from erlen.json_keys import json_path, loads_noting_repeated_keys


def test_a_document_without_repeated_keys_is_read_as_json_loads_reads_it() -> None:
    text = '{"a": [1, {"b": 2}], "c": {"d": null}}'
    assert loads_noting_repeated_keys(text) == (json.loads(text), None)


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ('{"title": "a", "title": "b"}', ("title",)),
        ('{"items": [{}, {}, {"name": 1, "name": 2}]}', ("items", 2, "name")),
        ('[{"id": 1}, {"id": 1, "id": 2}]', (1, "id")),
        # The first in the text: the inner repeat comes before the outer one.
        ('{"a": {"x": 1, "x": 2}, "a": 3}', ("a", "x")),
        ('{"t\\u0069tle": 1, "title": 2}', ("title",)),
    ],
)
def test_the_first_repeated_key_is_found_where_the_text_has_it(text: str, place: tuple[str | int, ...]) -> None:
    document, found = loads_noting_repeated_keys(text)
    assert found == place
    assert document == json.loads(text)  # the last value kept, as json.loads keeps it


def test_what_json_loads_refuses_is_refused() -> None:
    with pytest.raises(ValueError):
        loads_noting_repeated_keys("{not json")
    assert loads_noting_repeated_keys("1" * 5000, parse_int=str) == ("1" * 5000, None)


def test_places_are_written_as_people_write_them() -> None:
    assert json_path(("items", 2, "name")) == "items[2].name"
    assert json_path((0, "id")) == "[0].id"
    assert json_path(("first name", "x")) == '["first name"].x'
    assert json_path(("é",)) == '["é"]'
