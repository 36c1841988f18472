"""Keeping secrets out of text that leaves the process: log lines, and messages quoting URLs.

:func:`redact_text` hides the passwords of URLs (``postgresql://u:***@h/db``), credentials after the
words that announce them (``password=``, ``Authorization: Bearer``, ``Cookie:``) and any of a given set
of secret values (those of the settings declared ``secret=True``); :func:`redact_fields` hides the values
of fields whose names mark secrets. erlen-db's :func:`erlen_db.urls.redact` uses the same patterns for URLs.
"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Iterable, Mapping

#: What a hidden value is replaced by.
MASK = "***"

#: ``//user:password@host`` in a URL, in any text: the password runs to the last ``@`` before a space.
URL_PASSWORD = re.compile(r"(?P<head>//[^:/@\s]*:)(?P<password>\S*)(?P<tail>@[^@\s]*)")

#: A ``password=`` query parameter, which libpq and psycopg accept as well.
QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)(?P<password>[^&\s]*)", re.IGNORECASE)

#: Words in a field's name that mark a secret value (``password``, ``api_token``, ``Set-Cookie``).
SECRET_WORDS = ("password", "passwd", "secret", "token", "cookie", "authorization", "credential", "session")

#: ``Authorization: Bearer abc``, ``Proxy-Authorization: Basic abc``: the scheme stays, the credentials go.
_AUTHORIZATION = re.compile(
    r"(?P<head>\b(?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?(?:(?:bearer|basic|digest|token)\s+)?)"
    r"(?P<secret>[^\s'\",;}]+)",
    re.IGNORECASE,
)
#: ``Cookie: a=1; b=2`` and ``Set-Cookie: ...``: everything to the end of the line or quote.
_COOKIE = re.compile(r"(?P<head>\b(?:set-)?cookie['\"]?\s*[:=]\s*['\"]?)(?P<secret>[^\n'\"}]+)", re.IGNORECASE)
#: ``password=abc``, ``"api_token": "abc"``, ``client_secret: abc``: a secret-named key and its value.
_KEY_VALUE = re.compile(
    r"(?P<head>\b[\w-]*(?:password|passwd|secret|token|api[_-]?key)['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<secret>[^\s&'\",;}]+)",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a field called ``name`` holds a secret (``password``, ``api_token``, ``Cookie``, ``api_key``).

    ``key`` counts as a whole word of the name only: ``api_key`` is a secret, ``keyword`` is not.

    :param name: a field's or header's name.
    """
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS) or "key" in lowered.replace("-", "_").split("_")


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the passwords of URLs, announced credentials and each of ``secrets`` replaced by :data:`MASK`.

    :param text: a message, a traceback, a URL.
    :param secrets: values to hide wherever they occur (the values of secret settings).
    """
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    if "//" in text:
        text = URL_PASSWORD.sub(r"\g<head>" + MASK + r"\g<tail>", text)
    if "=" in text or ":" in text:
        text = QUERY_PASSWORD.sub(r"\g<head>" + MASK, text)
        text = _AUTHORIZATION.sub(r"\g<head>" + MASK, text)
        text = _COOKIE.sub(r"\g<head>" + MASK, text)
        text = _KEY_VALUE.sub(r"\g<head>" + MASK, text)
    return text


def redact_value(value: t.Any, secrets: Iterable[str] = ()) -> t.Any:
    """``value`` with its secrets hidden: text by :func:`redact_text`, mappings by :func:`redact_fields`, lists
    item by item; other values as they are.

    :param value: a log field's value.
    :param secrets: as for :func:`redact_text`.
    """
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping):
        return redact_fields(value, secrets)
    if isinstance(value, (list, tuple)):
        return [redact_value(item, secrets) for item in value]
    return value


def redact_fields(fields: Mapping[t.Any, t.Any], secrets: Iterable[str] = ()) -> dict[str, t.Any]:
    """``fields`` with the value of each secret-named field (:func:`is_secret_name`) replaced by :data:`MASK`,
    and the secrets in the others hidden (:func:`redact_value`).

    :param fields: names to values, such as a log record's extra fields or a request's headers.
    :param secrets: as for :func:`redact_text`.
    """
    return {
        str(name): MASK if is_secret_name(str(name)) and value not in (None, "") else redact_value(value, secrets)
        for name, value in fields.items()
    }
