"""Keys a JSON document holds twice in one object: found, and said where, for any part that reads JSON bodies.

``{"title": "a", "title": "b"}`` is valid JSON whose meaning the parser chooses (the standard library and
pydantic keep the last value): a client's mistake loses a value silently, and a proxy that reads the first sees
another request than the app (a parser differential). erlen-forms and erlen-api refuse such a body, naming the
key with :func:`json_path`.
"""

from __future__ import annotations

import json
import re
import typing as t
from collections.abc import Iterable

#: What an identifier in a path (``items[2].name``) is written as without brackets.
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: A place in a JSON document: the keys and indexes from its root.
Location = tuple[str | int, ...]


class _Repeated(dict[str, t.Any]):
    """An object of the document that holds a key twice: its pairs in the document's order.

    :param pairs: the object's keys and values, in order.
    """

    def __init__(self, pairs: list[tuple[str, t.Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def loads_noting_repeated_keys(data: str | bytes, **options: t.Any) -> tuple[t.Any, Location | None]:
    """``json.loads(data)``, and the place of the first key an object of it holds twice, in the document's order.

    Objects whose keys are all different cost one ``dict`` more than ``json.loads`` alone.

    :param data: a JSON document.
    :param options: passed on to :func:`json.loads` (``parse_int=str`` skips reading long numbers).
    :returns: the document (a repeated key's last value kept, as ``json.loads`` does) and ``None``, or the place of
        the repeated key, the key last (``("items", 2, "name")``).
    :raises ValueError: ``data`` is not JSON (:class:`json.JSONDecodeError`, or a number too long to read).
    :raises RecursionError: ``data`` is nested deeper than the decoder recurses.
    """
    repeated = False

    def pairs_hook(pairs: list[tuple[str, t.Any]]) -> dict[str, t.Any]:
        nonlocal repeated
        made = dict(pairs)
        if len(made) == len(pairs):
            return made
        repeated = True
        return _Repeated(pairs)

    document = json.loads(data, object_pairs_hook=pairs_hook, **options)
    return document, (_first_repeated(document, ()) if repeated else None)


def _first_repeated(value: t.Any, location: Location) -> Location | None:
    """The place of the first repeated key in ``value``, at ``location``, in the order of the document's text.

    An object's key is written after the values of the keys before it: each value is searched before the next
    key is looked at.

    :param value: a part of the parsed document.
    :param location: its place.
    """
    if isinstance(value, dict):
        pairs: Iterable[tuple[str, t.Any]] = value.pairs if isinstance(value, _Repeated) else value.items()
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
