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

import jiter

from erlen.json_keys import Location, json_path, loads_noting_repeated_keys

#: The start of jiter's error for a repeated key (``Detected duplicate key "a" at line 1 column 12``).
_DUPLICATE = "Detected duplicate key"


def duplicate_key(data: bytes) -> Location | str | None:
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
    try:
        # Integers kept as text: the values do not matter here, and int() refuses more than 4,300 digits.
        _, location = loads_noting_repeated_keys(data, parse_int=str)
    except (ValueError, RecursionError):
        return message
    return location or message


__all__ = ["duplicate_key", "json_path"]
