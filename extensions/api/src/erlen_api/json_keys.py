"""Duplicate keys in a JSON body: ``{"title": "a", "title": "b"}`` is refused rather than read as its last value.

RFC 8259 says an object's names SHOULD be unique and leaves what a parser does with a repeated one to the parser:
pydantic keeps the last, others keep the first or refuse. A proxy or firewall that reads the first ``"role"`` and
an app that reads the last then see two different requests (a parser differential), and a client's mistake loses
a value silently. erlen-api answers such a body with a 400 naming the key and where it is.

The check runs on every JSON body, so it must cost little next to pydantic's own parse, which goes straight from
the bytes to the view's argument and tells nothing of the keys it overwrote. It is jiter's, the parser pydantic
is built on, as a Python package: the same reading of the bytes (escapes, numbers, depth), in Rust, adding about
half of what pydantic's validation of the body costs (a quarter of a microsecond for a small object). The standard
library's ``json.loads`` with an ``object_pairs_hook`` (a Python call per object) or a regular expression listing
the keys first cost two to five times the validation itself. Only when a key repeats is the body parsed again,
by the standard library, to say where.
"""

from __future__ import annotations

import json
import re
import typing as t
from collections.abc import Iterable

import jiter

#: The start of jiter's error for a repeated key (``Detected duplicate key "a" at line 1 column 12``).
_DUPLICATE = "Detected duplicate key"

#: What an identifier in a path (``items[2].name``) is written as without brackets.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Duplicated(dict[str, t.Any]):
    """An object of the body that holds a key twice: its pairs in the order the body gives them.

    :param pairs: the object's keys and values, in order.
    """

    def __init__(self, pairs: list[tuple[str, t.Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def duplicate_key(data: bytes) -> tuple[str | int, ...] | str | None:
    """Where the JSON ``data`` first holds a key twice in one object, in the body's order.

    :param data: a JSON document, as bytes, in UTF-8.
    :returns: ``None`` when no object repeats a key, or when ``data`` is not JSON (the caller's parser says what is
        wrong with it); else the keys and indexes from the root to the repeated key, the key last
        (``("items", 2, "name")``), or jiter's own words when the standard library cannot read the body to say so.
    """
    try:
        jiter.from_json(data, catch_duplicate_keys=True)
    except ValueError as exc:
        message = str(exc)
        if not message.startswith(_DUPLICATE):
            return None
    else:
        return None
    return _place_of_repeated_key(data) or message


def _place_of_repeated_key(data: bytes) -> tuple[str | int, ...] | None:
    """The place of the first key ``data`` holds twice, found by the standard library's parser.

    :param data: a JSON document in which jiter found a repeated key.
    """
    duplicated = False

    def pairs_hook(pairs: list[tuple[str, t.Any]]) -> dict[str, t.Any]:
        nonlocal duplicated
        made = dict(pairs)
        if len(made) == len(pairs):
            return made
        duplicated = True
        return _Duplicated(pairs)

    try:
        # Integers kept as text: the values do not matter here, and int() refuses more than 4,300 digits.
        document = json.loads(data, object_pairs_hook=pairs_hook, parse_int=str)
    except (ValueError, RecursionError):
        return None
    return _first_repeated(document, ()) if duplicated else None


def _first_repeated(value: t.Any, location: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """The place of the first repeated key in ``value``, at ``location``, in the order of the body's text.

    An object's key is written after the values of the keys before it: each value is searched before the next
    key is looked at. The depth is that of a body pydantic parsed already (its limit is a few hundred levels).

    :param value: a part of the parsed body.
    :param location: its place.
    """
    if isinstance(value, dict):
        pairs: Iterable[tuple[str, t.Any]] = value.pairs if isinstance(value, _Duplicated) else value.items()
        seen: set[str] = set()
        for key, item in pairs:
            if key in seen:
                return (*location, key)
            seen.add(key)
            found = _first_repeated(item, (*location, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_repeated(item, (*location, index))
            if found is not None:
                return found
    return None


def json_path(location: Iterable[str | int]) -> str:
    """A place in a JSON document as people write it: ``items[2].name``, ``["first name"]``, ``[0].id``.

    :param location: the keys and indexes from the document's root.
    """
    written = ""
    for part in location:
        if isinstance(part, int):
            written += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            written += f".{part}" if written else part
        else:
            written += f"[{json.dumps(part, ensure_ascii=False)}]"
    return written
