"""Where ``next`` may send people after logging in: paths of this site, nothing else."""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

from flask import request

#: Longest ``next`` accepted.
MAX_LENGTH = 2048

#: How many rounds of percent-decoding are looked through (``%252F%252F`` is ``//`` after two).
_DECODE_ROUNDS = 4


def _is_safe_path(text: str) -> bool:
    if not text.startswith("/"):
        return False  # a scheme ("javascript:", "https:"), a relative path, or leading blanks
    if len(text) > 1 and text[1] in "/\\":
        return False  # scheme-relative: //evil.example, /\evil.example
    for char in text:
        if char == "\\":
            return False  # browsers read a backslash as a slash
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            return False  # control and invisible characters, which browsers drop (tab, newline, ...)
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def is_safe_redirect(target: object) -> bool:
    """Whether ``target`` is a path of this site that is safe to redirect to.

    Only absolute paths (``/account?tab=2``) pass. Refused: other hosts
    (``https://evil.example``), scheme-relative URLs (``//evil.example``),
    backslashes (``\\\\evil.example``, ``/\\evil.example``), schemes
    (``javascript:``), relative paths, control or invisible characters, and
    any of these hidden behind one or more rounds of percent-encoding.

    :param target: the requested target, usually the ``next`` parameter.
    """
    if not isinstance(target, str) or not target or len(target) > MAX_LENGTH:
        return False
    current = target
    for _ in range(_DECODE_ROUNDS):
        if not _is_safe_path(current):
            return False
        decoded = unquote(current)
        if decoded == current:
            return True
        current = decoded
    return False  # still encoded after several rounds: nobody needs that


def safe_next(default: str = "/") -> str:
    """The ``next`` of the current request (query string or form) when it is safe, else ``default``.

    :param default: where to go when ``next`` is missing or refused.
    """
    for source in (request.form, request.args):
        target = source.get("next")
        if target:
            return target if is_safe_redirect(target) else default
    return default
