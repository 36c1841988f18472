"""How the admin shows a moment in time: one format on every page, the full timestamp a hover (or a screen reader's
look at the element) away.

Every admin page writes times as ``2026-12-07 06:38 UTC``, in a ``<time>`` element whose ``datetime`` attribute is
the exact ISO 8601 value and whose ``title`` is the timestamp to the second. Before, the list of users said
``2026-12-07 06:38 UTC``, the audit log ``2026-12-07 06:38:03`` and the jobs ``2026-12-07 06:38:03+00:00``.

Erlen stores times in UTC; a time without a zone (SQLite gives every time back so, and the audit log's column has
none) is read as UTC.
"""

from __future__ import annotations

import datetime as dt

from markupsafe import Markup, escape

#: The admin's format of a moment, to the minute.
SHORT_FORMAT = "%Y-%m-%d %H:%M UTC"

#: The format of the ``title`` that gives the moment to the second.
FULL_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def as_utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware time in UTC; a naive one is taken to be in UTC already.

    :param value: the stored time.
    """
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def time_text(value: dt.datetime) -> str:
    """``value`` in the admin's format, for plain text (a flash message, a title): ``2026-12-07 06:38 UTC``.

    :param value: the time.
    """
    return as_utc(value).strftime(SHORT_FORMAT)


def time_tag(value: dt.datetime | None) -> Markup:
    """``value`` as a ``<time>`` element in the admin's format, with the exact value in ``datetime`` and the
    timestamp to the second in ``title``; "—" for ``None`` (a time not set yet).

    :param value: the time, or ``None``.
    """
    if value is None:
        return Markup("—")
    moment = as_utc(value)
    exact = moment.isoformat().replace("+00:00", "Z")
    # An f-string of escaped parts, where Markup.format would escape the same: its pure-Python formatter was an
    # eighth of a 20-row list page's time (a time column makes one tag per row).
    full, short = moment.strftime(FULL_FORMAT), moment.strftime(SHORT_FORMAT)
    return Markup(f'<time datetime="{escape(exact)}" title="{escape(full)}">{escape(short)}</time>')
