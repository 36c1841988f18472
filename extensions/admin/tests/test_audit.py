"""The audit log's pages: an entry's changes as a before/after table, headed by the model's column labels."""

from __future__ import annotations

import datetime as dt
import re
import typing as t

import sqlalchemy as sa

from erlen_admin.audit import changes_of, changes_text, heading_of
from erlen_admin.models import AuditEntry

BOOKS = "/admin/m/library_book/"


def entry_page(admin_client, db_session, action: str) -> str:
    entry = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc()))
    return admin_client.get(f"/admin/m/audit/{entry.id}/").text


def rows_of(html: str) -> list[tuple[str, str, str]]:
    table = re.search(r'<table class="admin-table changes-table[^"]*">(.*?)</table>', html, re.DOTALL)
    assert table is not None, html
    return re.findall(
        r'<tr><th scope="row">(.*?)</th><td class="before"[^>]*>(.*?)</td><td class="after"[^>]*>(.*?)</td></tr>',
        table.group(1),
    )


def rename_and_publish(admin_client, book) -> None:
    """Edit ``book`` in the admin: the title "Renamed", 77 pages, published."""
    admin_client.post(
        f"{BOOKS}{book.id}/edit",
        data={"title": "Renamed", "pages": "77", "status": "published", "author_id": str(book.author_id)},
    )


def test_an_edit_shows_before_and_after(admin_client, books, db_session):
    rename_and_publish(admin_client, books[0])
    html = entry_page(admin_client, db_session, "edit")
    assert sorted(rows_of(html)) == [
        ("Pages", "10", "77"),
        ("Status", "draft", "published"),
        ("Title", "Book 01", "Renamed"),
    ]
    assert '{"' not in html  # no raw JSON


def test_a_creation_and_a_deletion(admin_client, books, db_session, models):
    admin_client.post("/admin/m/library_author/new", data={"name": "Barbara"})
    created = rows_of(entry_page(admin_client, db_session, "create"))
    assert ("Name", "—", "Barbara") in created
    admin_client.post(f"{BOOKS}{books[2].id}/delete")
    deleted = rows_of(entry_page(admin_client, db_session, "delete"))
    assert ("Title", "Book 03", "—") in deleted and ("Pages", "30", "—") in deleted


def test_values_are_escaped(admin_client, books, db_session):
    book = books[0]
    admin_client.post(
        f"{BOOKS}{book.id}/edit",
        data={"title": "<b>bold</b>", "pages": "10", "status": "draft", "author_id": str(book.author_id)},
    )
    html = entry_page(admin_client, db_session, "edit")
    assert ("Title", "Book 01", "&lt;b&gt;bold&lt;/b&gt;") in rows_of(html)


def test_changes_of_an_unregistered_model_use_the_column_names():
    assert changes_of("edit", {"title": ["a", None]}) == changes_of("edit", {"title": ["a", None]}, None)
    (row,) = changes_of("edit", {"title": ["a", None]})
    assert (row.label, row.before, row.after) == ("title", "a", "—")
    assert changes_text({"id": 3, "title": "x"}, "delete") == "id: 3 → —; title: x → —"
    assert changes_text(None) == ""


def test_the_audit_log_shows_only_entries_of_models_the_user_may_view(
    app, admin_client, books, db_session, create_user
):
    """Before: anyone with admin.audit.view read every model's changed values (the list, an entry's page, the
    export, the dashboard's "Recent changes" and chart), those of models they may not view included."""
    from erlen_auth import Role, grant
    from erlen_auth.testing import login_as

    admin_client.post(
        f"{BOOKS}{books[0].id}/edit",
        data={"title": "Seen", "pages": "10", "status": "draft", "author_id": str(books[0].author_id)},
    )
    admin_client.post("/admin/m/library_author/new", data={"name": "Hidden Author"})
    # An entry of a model that has no admin view any more: for superusers only.
    db_session.add(AuditEntry(action="edit", model="gone_model", object_id="1", object_repr="Gone Row"))
    db_session.commit()
    hidden = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.model == "library_author"))
    gone = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.model == "gone_model"))
    seen = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.model == "library_book"))

    user = create_user("auditor@example.com", roles=["auditor"])
    role = db_session.scalar(sa.select(Role).where(Role.name == "auditor"))
    grant(role, "admin.access", "admin.audit.view", "admin.library_book.view", app=app)
    db_session.commit()
    auditor = app.test_client()
    login_as(auditor, user)

    listing = auditor.get("/admin/m/audit/?per_page=100").text
    assert "Seen" in listing
    assert "Hidden Author" not in listing and "Gone Row" not in listing
    assert auditor.get(f"/admin/m/audit/{seen.id}/").status_code == 200
    assert auditor.get(f"/admin/m/audit/{hidden.id}/").status_code == 404
    assert auditor.get(f"/admin/m/audit/{gone.id}/").status_code == 404
    export = auditor.get("/admin/m/audit/export.csv").text
    assert "Seen" in export and "Hidden Author" not in export and "Gone Row" not in export
    dashboard = auditor.get("/admin/").text
    assert "Seen" in dashboard and "Hidden Author" not in dashboard and "Gone Row" not in dashboard
    assert '<desc id="activity-desc">1 change in all' in dashboard
    # A superuser sees every entry, those of models without a view included.
    everything = admin_client.get("/admin/m/audit/?per_page=100").text
    assert "Seen" in everything and "Hidden Author" in everything and "Gone Row" in everything
    assert admin_client.get(f"/admin/m/audit/{gone.id}/").status_code == 200
    assert '<desc id="activity-desc">3 changes in all' in admin_client.get("/admin/").text


def test_times_in_the_changes_are_written_as_every_admin_page_writes_times(admin_client, create_user, db_session):
    """Found walking the admin as a staff user: confirming an account showed its time in "Changes" as the ISO text
    the entry stores (``2026-12-07T06:38:12.123456+00:00``), where every other page writes ``2026-12-07 06:38 UTC``
    in a ``<time>`` element. Only a time column's values are times: text that looks like one stays text."""
    from test_timestamps import OTHER_FORMATS, times_of

    ada = create_user("ada@example.com", confirmed=False)
    response = admin_client.post(
        f"/admin/m/users/{ada.id}/edit", data={"email": "ada@example.com", "is_active": "y", "email_confirmed_at": "y"}
    )
    assert response.status_code == 302, response.text
    entry = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "edit", AuditEntry.model == "users"))
    stored = entry.changes["email_confirmed_at"][1]
    assert isinstance(stored, str) and "T" in stored  # the entry keeps the exact ISO value
    html = admin_client.get(f"/admin/m/audit/{entry.id}/").text
    (row,) = [row for row in rows_of(html) if row[0] == "Email confirmed"]
    assert row[1] == "—"
    ((exact, _, short),) = times_of(row[2])
    moment = dt.datetime.fromisoformat(stored)
    assert short == moment.strftime("%Y-%m-%d %H:%M") and exact.startswith(moment.strftime("%Y-%m-%dT%H:%M:%S"))
    assert not OTHER_FORMATS.search(html), OTHER_FORMATS.search(html)

    # Text that reads like a time, in a text column of a registered view, is the text that was typed.
    looks_like_a_time = "2026-12-07T06:38:12+00:00"
    renamed = AuditEntry(
        action="edit",
        model="users",
        object_id=str(ada.id),
        object_repr="x",
        changes={"email": [looks_like_a_time, "x"]},
    )
    db_session.add(renamed)
    db_session.commit()
    assert rows_of(admin_client.get(f"/admin/m/audit/{renamed.id}/").text) == [("Email", looks_like_a_time, "x")]


def test_changes_of_a_model_no_longer_registered_show_only_stored_iso_times_as_times():
    """Without a view to say which columns hold times, only the form the audit log stores a time in is one."""
    changes = {
        "seen": ["2026-12-07T06:38:12.123456+00:00", "2026-12-07T06:38:12"],
        "note": ["2026-12-07 06:38", "2026-12-07"],
    }
    seen, note = changes_of("edit", changes)
    assert str(seen.before) == (
        '<time datetime="2026-12-07T06:38:12.123456Z" title="2026-12-07 06:38:12 UTC">2026-12-07 06:38 UTC</time>'
    )
    assert str(seen.after).endswith(">2026-12-07 06:38 UTC</time>")
    assert (note.before, note.after) == ("2026-12-07 06:38", "2026-12-07")
    (deleted,) = changes_of("delete", {"seen": "2026-12-07T06:38:12+00:00"})
    assert str(deleted.before).startswith("<time ") and deleted.after == "—"
    # The CSV export keeps the ISO values.
    assert changes_text(changes) == (
        "seen: 2026-12-07T06:38:12.123456+00:00 → 2026-12-07T06:38:12; note: 2026-12-07 06:38 → 2026-12-07"
    )


def test_an_entrys_page_is_headed_by_what_it_records_in_words(admin_client, books, db_session):
    rename_and_publish(admin_client, books[0])
    html = entry_page(admin_client, db_session, "edit")
    # Not the model's slug and key ("Edit library_book 1 “Renamed”"), nor quotes within quotes in the title.
    assert "<h1>Edited book “Renamed”</h1>" in html
    assert "<title>Edited book “Renamed” · Admin</title>" in html
    recent = admin_client.get("/admin/").text
    assert "Edited book “Renamed”" in recent


def test_a_heading_keeps_a_model_name_that_begins_with_capitals_and_says_a_key_without_a_name():
    class View:
        name = "OIDC identity"

    entry = AuditEntry(action="bulk:unlink", model="auth_oidc_identity", object_id="7", object_repr="")
    assert heading_of(entry, t.cast(t.Any, View())) == "Bulk unlink OIDC identity 7"
    gone = AuditEntry(action="delete", model="old_model", object_id="3", object_repr="Three")
    assert heading_of(gone, None) == "Deleted old_model “Three”"


def test_a_heading_names_the_model_once_for_an_object_described_by_its_name_and_key():
    # A model without __str__ is described "Note 26" (ModelView.describe), which its title() says once: the
    # heading said "Edited note “Note 26”".
    class Note:
        """A model without ``__str__``."""

    class View:
        name = "Note"
        model = Note

    entry = AuditEntry(action="edit", model="notes_note", object_id="26", object_repr="Note 26")
    assert heading_of(entry, t.cast(t.Any, View())) == "Edited note 26"
    titled = AuditEntry(action="edit", model="notes_note", object_id="27", object_repr="Notebook of Ada")
    assert heading_of(titled, t.cast(t.Any, View())) == "Edited note “Notebook of Ada”"
