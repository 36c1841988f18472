"""Text a database stores: never the NUL character, which PostgreSQL refuses in text.

The schemas of resources refuse it with a pattern; a client refused so is told in words what to remove, where
pydantic's own message would quote the pattern (``String should match pattern '^[^\\x00]*$'``).
"""

from __future__ import annotations

import typing as t

#: The pattern of strings a database stores: no NUL character (PostgreSQL refuses it).
NO_NUL_PATTERN = "^[^\\x00]*$"

#: What a client is told of a string holding the NUL character.
NUL_DETAIL = "Text may not hold the NUL character (\\u0000): remove it."


def detail_of(error: t.Mapping[str, t.Any]) -> str:
    """The ``detail`` of one of pydantic's errors: its message, in words for the NUL character's pattern.

    :param error: one of pydantic's ``ErrorDetails``.
    """
    context = error.get("ctx") or {}
    if error["type"] == "string_pattern_mismatch" and context.get("pattern") == NO_NUL_PATTERN:
        return NUL_DETAIL
    return str(error["msg"])
