"""Entity tags: one rule for the ``ETag`` of a representation, shared by reads (``If-None-Match``) and writes
(``If-Match``), so that the tag a client got from a GET is the one its PATCH or DELETE must send back.
"""

from __future__ import annotations

import hashlib
import re

from .problems import Problem

#: An entity tag (RFC 9110, 8.8.3): ``"xyzzy"`` or ``W/"xyzzy"``; its characters are ``etagc`` (any visible
#: character but ``"``, and obs-text). ``W/`` is case-sensitive. A comma may be inside the quotes.
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*+"'

#: A valid ``If-Match`` or ``If-None-Match``: ``*`` alone, or a list of entity tags (RFC 9110, 5.6.1: separated by
#: commas with optional spaces around them; empty elements are allowed and ignored). Possessive: linear time.
_CONDITION = re.compile(rf"[ \t]*+(?:\*|(?:{_ENTITY_TAG})?+(?:[ \t]*+,[ \t]*+(?:{_ENTITY_TAG})?+)*+)[ \t]*+")

#: One entity tag of a valid list: whether it is weak, and its opaque part without the quotes.
_TAG = re.compile(r'(W/)?"([^"]*)"')


def entity_tag(body: bytes) -> str:
    """The strong entity tag of a representation, quoted as in an ``ETag`` header.

    :param body: the representation's bytes, exactly as a GET of the resource answers them.
    :returns: ``"<32 hex digits>"``, the start of the body's SHA-256.
    """
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def malformed_condition(name: str, value: str) -> Problem:
    """The 400 of an ``If-Match`` or ``If-None-Match`` that is not ``*`` nor a list of entity tags.

    Not a 412: that would tell the client its precondition is false, when the server could not read it.

    :param name: the header's name.
    :param value: its value, quoted back (shortened) so that the client sees what arrived.
    """
    shown = value if len(value) <= 80 else value[:77] + "..."
    return Problem(
        400,
        f"The {name} header is not a list of entity tags ({shown!r}): send * or the ETag values the API gave, "
        'each in double quotes, separated by commas, such as "1a2b" or W/"1a2b".',
        header=name,
    )


def parse_condition(value: str, name: str) -> tuple[bool, list[tuple[bool, str]]]:
    """Read an ``If-Match`` or ``If-None-Match`` header (RFC 9110, 13.1.1 and 13.1.2).

    :param value: the header's value (several lines of it joined with commas, as WSGI servers do).
    :param name: the header's name, for the error.
    :returns: whether it is ``*``, and its entity tags: weak or not, and the opaque part without quotes.
    :raises Problem: 400 naming the header, when it is neither.
    """
    if _CONDITION.fullmatch(value) is None:
        raise malformed_condition(name, value)
    if value.strip(" \t") == "*":
        return True, []
    return False, [(bool(weak), opaque) for weak, opaque in _TAG.findall(value)]


def _split(tag: str) -> tuple[bool, str]:
    """Whether the ``ETag`` value ``tag`` is weak, and its opaque part without quotes.

    :param tag: an ``ETag`` value: ours (strong) or one a view set (perhaps weak).
    """
    weak = tag.startswith("W/")
    return weak, (tag[2:] if weak else tag).strip('"')


def matches(header: str | None, tag: str, *, weak: bool, name: str | None = None) -> bool:
    """Whether an ``If-Match`` or ``If-None-Match`` header names ``tag``.

    :param header: the header's value, or ``None`` when absent.
    :param tag: the ``ETag`` of the current representation, quoted (:func:`entity_tag`, or a view's own).
    :param weak: ``True`` for ``If-None-Match`` (weak comparison, RFC 9110 13.1.2: the opaque parts are equal,
        either tag may be weak), ``False`` for ``If-Match`` (strong comparison, 13.1.1: both tags are strong too).
    :param name: the header's name, for the error; ``If-None-Match`` when ``weak``, else ``If-Match``.
    :returns: whether the header lists the tag or is ``*``.
    :raises Problem: 400 when the header is not ``*`` nor a list of entity tags.
    """
    if header is None:
        return False
    star, tags = parse_condition(header, name or ("If-None-Match" if weak else "If-Match"))
    if star:
        return True
    current_weak, current = _split(tag)
    if weak:
        return any(opaque == current for _, opaque in tags)
    return not current_weak and any(opaque == current and not is_weak for is_weak, opaque in tags)
