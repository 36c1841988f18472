"""Entity tags: one rule for the ``ETag`` of a representation, shared by reads (``If-None-Match``) and writes
(``If-Match``), so that the tag a client got from a GET is the one its PATCH or DELETE must send back.
"""

from __future__ import annotations

import hashlib

from werkzeug.http import parse_etags


def entity_tag(body: bytes) -> str:
    """The strong entity tag of a representation, quoted as in an ``ETag`` header.

    :param body: the representation's bytes, exactly as a GET of the resource answers them.
    :returns: ``"<32 hex digits>"``, the start of the body's SHA-256.
    """
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(header: str | None, tag: str, *, weak: bool) -> bool:
    """Whether an ``If-Match`` or ``If-None-Match`` header names ``tag``.

    :param header: the header's value, or ``None`` when absent.
    :param tag: a quoted tag from :func:`entity_tag`.
    :param weak: ``True`` for ``If-None-Match`` (weak comparison, RFC 9110 13.1.2), ``False`` for
        ``If-Match`` (strong comparison, 13.1.1).
    :returns: whether the header lists the tag or is ``*``.
    """
    if header is None:
        return False
    etags = parse_etags(header)
    if etags.star_tag:
        return True
    unquoted = tag.strip('"')
    return etags.contains_weak(unquoted) if weak else etags.is_strong(unquoted)
