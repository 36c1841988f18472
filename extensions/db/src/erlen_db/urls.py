"""Reading and checking the database URL, with passwords kept out of every message."""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from erlen.redaction import QUERY_PASSWORD as _QUERY_PASSWORD
from erlen.redaction import URL_PASSWORD as _PASSWORD

#: ``user:password@host`` or ``scheme:user:password@host`` (no ``//``): all before the last ``@`` is hidden
#: but a first word, which is the user or the scheme.
_PASSWORD_WITHOUT_SLASHES = re.compile(r"(?P<head>(?:^|\s)[^:/@\s]*:)(?P<password>\S*)(?P<tail>@[^@\s]*)")


def redact(url: str | URL) -> str:
    """Render ``url`` with its password replaced by ``***``, whether or not it parses.

    The password is hidden wherever it is: after the user, in a ``password``
    query parameter, or in a malformed URL that lacks its scheme or ``//``
    (by the patterns of :mod:`erlen.redaction`, which JSON log lines use too).

    :param url: a URL object or string.
    """
    if isinstance(url, URL):
        rendered = url.render_as_string(hide_password=True)
    else:
        try:
            parsed = make_url(url)
            if password_holds_at(url, parsed):
                raise ValueError("the password ends at its first '@': the rest would show as the host")
            rendered = parsed.render_as_string(hide_password=True)
        except (ArgumentError, ValueError, TypeError):
            rendered, found = _PASSWORD.subn(r"\g<head>***\g<tail>", url)
            if not found:
                rendered = _PASSWORD_WITHOUT_SLASHES.sub(r"\g<head>***\g<tail>", url)
    return _QUERY_PASSWORD.sub(r"\g<head>***", rendered)


def password_holds_at(raw: str, parsed: URL) -> bool:
    """Whether the server URL ``raw`` has a password holding an ``@`` that is not percent-encoded.

    SQLAlchemy ends the password at its first ``@``, so the rest of it becomes
    the host or the database name: ``postgresql://bob:p@ss@db.example/app``
    connects to the host ``ss@db.example`` and shows ``ss`` wherever the URL
    is shown. A user name may hold an ``@`` (``user@server:pw@host``, as some
    hosted databases want); a password that ends before an ``@`` left in the
    host or the database name may not. SQLite paths may hold an ``@``.

    :param raw: the URL as configured.
    :param parsed: ``raw`` as SQLAlchemy parsed it.
    """
    if is_sqlite(parsed) or parsed.password is None or raw.count("@") < 2:
        return False
    return "@" in (parsed.host or "") or "@" in (parsed.database or "")


def parse(url: str) -> URL:
    """Parse ``url``; ``postgresql://`` and ``postgres://`` without a driver mean psycopg 3.

    :param url: the configured URL.
    :raises ValueError: the URL is malformed, or its password holds an ``@`` that is not percent-encoded,
        with a reason free of the password.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        raise ValueError(
            "it is not a valid database URL; expected dialect+driver://user:password@host/database"
        ) from None
    if password_holds_at(url, parsed):
        raise ValueError(
            "its password holds an '@', which ends the password there and makes the rest of it the host or "
            "the database name. Percent-encode the password's special characters (@ as %40, / as %2F, "
            "% as %25; urllib.parse.quote(password, safe=''))"
        )
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: URL) -> bool:
    """Whether ``url`` names an SQLite database."""
    return url.get_backend_name() == "sqlite"


def is_sqlite_memory(url: URL) -> bool:
    """Whether ``url`` names an SQLite database held in memory (no file), which each connection has its own of."""
    return is_sqlite(url) and url.database in (None, "", ":memory:")
