"""Times on the admin's pages: one format everywhere, the exact value in a <time> element."""

from __future__ import annotations

import datetime as dt
import re

from erlen_admin.timestamps import time_tag

#: A time as the admin writes it: a <time> with the exact value, the timestamp to the second as its title.
TIME_TAG = re.compile(
    r'<time datetime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)" title="(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC">'
    r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC</time>"
)

#: Any other way of writing a time: seconds, an offset or a "T" in the text people read.
OTHER_FORMATS = re.compile(r">[^<]*\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d|[^<]*\+00:00)[^<]*<")


def times_of(html: str) -> list[tuple[str, str, str]]:
    """The (datetime, title, text) of every admin time on a page."""
    return TIME_TAG.findall(html)


def test_a_time_tag_gives_the_short_text_and_the_exact_value():
    aware = dt.datetime(2026, 12, 7, 7, 38, 3, 744969, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert str(time_tag(aware)) == (
        '<time datetime="2026-12-07T06:38:03.744969Z" title="2026-12-07 06:38:03 UTC">2026-12-07 06:38 UTC</time>'
    )
    # A naive time (SQLite's, the audit log's column) is UTC.
    assert times_of(str(time_tag(dt.datetime(2026, 1, 2, 3, 4, 5)))) == [
        ("2026-01-02T03:04:05Z", "2026-01-02 03:04:05", "2026-01-02 03:04")
    ]
    assert str(time_tag(None)) == "—"


def test_every_admin_page_writes_times_in_one_format(admin_client, superuser, books, db_session):
    """Found walking the admin as a staff user: users' times read "2026-12-07 06:38 UTC", the audit log's
    "2026-12-07 06:38:03" and other aware columns "2026-12-07 06:38:03+00:00"."""
    from erlen_admin.models import AuditEntry

    entry = AuditEntry(
        action="edit", model="library_book", object_id=str(books[0].id), object_repr="Book 01", changes={}
    )
    db_session.add(entry)
    db_session.commit()
    pages = {
        "audit list": f"/admin/m/audit/?count=1&f_object_id={books[0].id}",
        "audit entry": f"/admin/m/audit/{entry.id}/",
        "users list": "/admin/m/users/",
        "user": f"/admin/m/users/{superuser.id}/",
        "dashboard": "/admin/",
    }
    for name, url in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, name
        html = response.text
        found = times_of(html)
        assert found, (name, html)
        for exact, full, short in found:
            assert full.startswith(short) and exact.startswith(short.replace(" ", "T")), (name, exact, full, short)
        assert not OTHER_FORMATS.search(html), (name, OTHER_FORMATS.search(html))
