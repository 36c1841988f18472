"""Reading and checking the database URL, with passwords kept out of every message."""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

#: ``//user:password@host`` in a URL that may not parse; the password runs to the last ``@``.
_PASSWORD = re.compile(r"(?P<head>//[^:/@\s]*:)(?P<password>\S*)(?P<tail>@[^@\s]*)")


def redact(url: str | URL) -> str:
    """Render ``url`` with its password replaced by ``***``, whether or not it parses.

    :param url: a URL object or string.
    """
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        return _PASSWORD.sub(r"\g<head>***\g<tail>", url)


def parse(url: str) -> URL:
    """Parse ``url``; ``postgresql://`` and ``postgres://`` without a driver mean psycopg 3.

    :param url: the configured URL.
    :raises ValueError: the URL is malformed, with a reason free of the password.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        raise ValueError(
            "it is not a valid database URL; expected dialect+driver://user:password@host/database"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: URL) -> bool:
    """Whether ``url`` names an SQLite database."""
    return url.get_backend_name() == "sqlite"
