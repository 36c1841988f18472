"""Row scopes: ``ModelView(scope=...)`` narrows every page, count, export and action to the user's rows.

The sample plugin ``admin_sample.scoped`` scopes its notes (and teams) to the editor's team: ``red-editor`` may
see and change the red team's notes only. A row outside the scope answers as a row that does not exist.
"""

from __future__ import annotations

import csv
import io
import re
import typing as t

import pytest
import sqlalchemy as sa
from conftest import PLUGINS

from erlen_auth.testing import login_as

NOTES = "/admin/m/scoped_note/"
#: The red team's notes, and the blue team's: lopsided, so that no count or estimate of one is the other's.
RED, BLUE = 3, 40
NOTE_PERMISSIONS = ("view", "create", "edit", "delete")


@pytest.fixture
def erlen_plugins() -> list[str]:
    return [*PLUGINS, "admin_sample.scoped"]


@pytest.fixture
def scoped() -> t.Any:
    from admin_sample import scoped

    return scoped


@pytest.fixture
def notes(db_session, scoped) -> dict[str, list[t.Any]]:
    """Teams red and blue, with RED and BLUE notes."""
    red, blue = scoped.Team(name="red"), scoped.Team(name="blue")
    db_session.add_all([red, blue])
    db_session.flush()
    made = {
        "red": [scoped.Note(title=f"Red {index:02d}", team_id=red.id) for index in range(RED)],
        "blue": [scoped.Note(title=f"Blue {index:02d}", team_id=blue.id) for index in range(BLUE)],
    }
    db_session.add_all([*made["red"], *made["blue"]])
    db_session.commit()
    return made


@pytest.fixture
def editor(app, create_user, db_session):
    """A client of its own (not ``admin_client``'s) logged in as red-editor, who may view, create, edit and
    delete notes and memos, and view teams."""
    from erlen_auth import Role, grant
    from erlen_forms.testing import csrf_token_for

    user = create_user("red-editor@example.com", roles=["editor"])
    role = db_session.scalar(sa.select(Role).where(Role.name == "editor"))
    names = [f"admin.scoped_{model}.{operation}" for model in ("note", "memo") for operation in NOTE_PERMISSIONS]
    grant(role, "admin.access", "admin.scoped_team.view", *names, app=app)
    db_session.commit()
    client = app.test_client()
    login_as(client, user)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_for(client)
    return client


def titles(html: str) -> list[str]:
    return re.findall(r'<td data-label="Title">([^<]*)</td>', html)


def flashes(html: str) -> str:
    return " ".join(re.findall(r'<p class="flash flash-[a-z]+">(.*?)</p>', html, re.DOTALL))


def test_list_pages_and_their_cursors_show_only_the_scope(editor, admin_client, notes):
    assert sorted(titles(editor.get(NOTES).text)) == [f"Red {index:02d}" for index in range(RED)]
    assert len(titles(admin_client.get(NOTES + "?per_page=50").text)) == RED + BLUE  # the superuser's scope: all
    # Going page by page (two notes a page) through the title order: a cursor says where a page starts, never
    # which rows it holds.
    seen: list[str] = []
    url: str | None = NOTES + "?sort=title&per_page=2"
    while url is not None:
        page = editor.get(url).text
        seen += titles(page)
        following = re.search(r'href="([^"]*after=[^"]*)"', page)
        url = following.group(1).replace("&amp;", "&") if following else None
    assert seen == sorted(f"Red {index:02d}" for index in range(RED))
    # A cursor taken from the superuser's list (after blue notes) still gives red notes only.
    forged = re.search(r'href="([^"]*after=[^"]*)"', admin_client.get(NOTES + "?sort=title&per_page=2").text)
    assert forged is not None
    assert titles(editor.get(forged.group(1).replace("&amp;", "&")).text) == ["Red 00", "Red 01"]
    # The search, a filter and a sort narrow the scope, never widen it.
    assert titles(editor.get(NOTES + "?q=Blue").text) == []
    blue_team = notes["blue"][0].team_id
    assert titles(editor.get(f"{NOTES}?f_team_id={blue_team}").text) == []
    assert titles(editor.get(NOTES + "?sort=-title").text) == [f"Red {index:02d}" for index in reversed(range(RED))]


def test_a_scoped_list_is_counted_and_estimated_within_its_scope(editor, admin_client, notes, db_session):
    # With statistics, the whole table has an estimate of its own, which a scoped list must not show.
    sqlite = db_session.get_bind().dialect.name == "sqlite"
    db_session.execute(sa.text("ANALYZE" if sqlite else "ANALYZE scoped_note"))
    db_session.commit()
    page = editor.get(NOTES).text
    assert f"About {RED + BLUE} " not in page and f"{RED + BLUE} notes" not in page
    assert f"{RED} notes in all." in editor.get(NOTES + "?count=1").text
    # The superuser's scope narrows nothing (it returns the statement given): the whole table's estimate.
    assert f"About {RED + BLUE} notes (an estimate)." in admin_client.get(NOTES).text
    # The dashboard's count too: the scope's rows, however the table's are estimated.
    assert dashboard_count(editor) != str(RED + BLUE)


def test_the_export_holds_only_the_scope(editor, notes):
    response = editor.get(NOTES + "export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    assert sorted(row[1] for row in rows[1:]) == [f"Red {index:02d}" for index in range(RED)]


def test_a_row_outside_the_scope_answers_as_a_missing_one(editor, notes, db_session, scoped):
    blue = notes["blue"][0]
    missing = max(note.id for note in notes["blue"]) + 1000
    form = {"title": "Taken over", "team_id": str(notes["red"][0].team_id)}

    def same(method: str, path: str, **options: t.Any) -> tuple[int, str]:
        """The answers for the blue note's key and for a key no row has, the keys taken out."""
        answers = []
        for ident in (blue.id, missing):
            response = getattr(editor, method)(path.format(ident), **options)
            location = response.headers.get("Location", "")
            if response.status_code == 302:
                said = flashes(editor.get(location).text).replace(f" {ident} ", " <id> ")
            else:
                # The error page, which names no key; its log-out form's CSRF token is signed with the time.
                said = re.sub(r'name="csrf_token" value="[^"]*"', "", response.text)
            answers.append((response.status_code, location, said))
        assert answers[0] == answers[1], path
        return answers[0][0], answers[0][2]

    assert same("get", NOTES + "{}/")[0] == 404
    assert same("get", NOTES + "{}/edit")[0] == 404
    assert same("get", NOTES + "{}/delete")[0] == 404
    status, said = same("post", NOTES + "{}/edit", data=form)
    assert status == 302 and "nothing was saved" in said
    status, said = same("post", NOTES + "{}/delete")
    assert status == 302 and "nothing was deleted" in said
    status, said = same("post", NOTES + "{}/do/exclaim")
    assert status == 302 and "nothing was done" in said
    db_session.expire_all()
    assert db_session.get(scoped.Note, blue.id).title == "Blue 00"  # untouched


def test_rows_inside_the_scope_are_shown_edited_deleted_and_acted_on(editor, notes, db_session, scoped):
    red = [note.id for note in notes["red"]]
    assert editor.get(f"{NOTES}{red[0]}/").status_code == 200
    team = str(notes["red"][0].team_id)
    response = editor.post(f"{NOTES}{red[0]}/edit", data={"title": "Renamed", "team_id": team})
    assert response.status_code == 302 and response.headers["Location"] == f"{NOTES}{red[0]}/"
    assert editor.post(f"{NOTES}{red[1]}/do/exclaim").status_code == 302
    assert editor.post(f"{NOTES}{red[2]}/delete").status_code == 302
    db_session.expire_all()
    assert db_session.get(scoped.Note, red[0]).title == "Renamed"
    assert db_session.get(scoped.Note, red[1]).title == "Red 01!"
    assert db_session.get(scoped.Note, red[2]) is None


def test_a_save_may_not_move_a_row_out_of_the_scope(editor, notes, db_session, scoped):
    """Archived notes are outside an editor's scope: archiving one, or creating one archived, is refused."""
    red = notes["red"][0]
    team = str(red.team_id)
    response = editor.post(f"{NOTES}{red.id}/edit", data={"title": "Moved", "team_id": team, "archived": "y"})
    assert response.status_code == 200
    assert "would be outside the rows you may see and change here" in response.text
    response = editor.post(NOTES + "new", data={"title": "Planted", "team_id": team, "archived": "y"})
    assert response.status_code == 200 and "would be outside the rows you may see" in response.text
    db_session.expire_all()
    assert db_session.get(scoped.Note, red.id).title == "Red 00"
    assert db_session.scalar(sa.select(scoped.Note).where(scoped.Note.title.in_(["Moved", "Planted"]))) is None


def test_an_action_that_leaves_a_row_outside_the_scope_is_rolled_back(editor, notes, db_session, scoped):
    """Like row-level security's WITH CHECK: a bulk or object action whose callback leaves a row (or adds one)
    outside the user's scope changes nothing and says which rows and why."""
    red = notes["red"]
    response = editor.post(
        NOTES + "action", data={"action": "archive", "ids": [str(red[0].id), str(red[1].id)]}, follow_redirects=True
    )
    said = flashes(response.text)
    assert "Archive: it would have left Note “Red 00”, Note “Red 01” outside the notes you may see" in said
    assert "Nothing was changed." in said and "Archived 2." not in said
    response = editor.post(f"{NOTES}{red[2].id}/do/archive", follow_redirects=True)
    assert "Archive: it would have left Note “Red 02” outside the notes you may see" in flashes(response.text)
    response = editor.post(f"{NOTES}{red[2].id}/do/copy", follow_redirects=True)
    assert "Copy archived: it would have left Note “Red 02 (copy)” outside the notes" in flashes(response.text)
    db_session.expire_all()
    assert not any(db_session.get(scoped.Note, note.id).archived for note in red)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(scoped.Note).where(scoped.Note.archived)) == 0
    from erlen_admin.models import AuditEntry

    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0  # no entry of undone changes


def test_an_action_within_the_scope_is_kept(editor, admin_client, notes, db_session, scoped):
    red = notes["red"]
    shouted = editor.post(NOTES + "action", data={"action": "shout", "ids": [str(red[0].id)]}, follow_redirects=True)
    assert "Shouted 1." in flashes(shouted.text)
    # The superuser's scope holds archived notes: the same callbacks' changes are kept for them.
    archived = admin_client.post(NOTES + "action", data={"action": "archive", "ids": [str(red[1].id)]})
    assert "Archived 1." in flashes(admin_client.get(archived.headers["Location"]).text)
    assert admin_client.post(f"{NOTES}{red[2].id}/do/copy").status_code == 302
    db_session.expire_all()
    assert db_session.get(scoped.Note, red[0].id).title == "RED 00"
    assert db_session.get(scoped.Note, red[1].id).archived
    assert db_session.scalar(sa.select(scoped.Note.archived).where(scoped.Note.title == "Red 02 (copy)")) is True


def test_bulk_actions_leave_out_the_rows_outside_the_scope(editor, notes, db_session, scoped):
    red, blue = notes["red"][0], notes["blue"][0]
    response = editor.post(
        NOTES + "action", data={"action": "shout", "ids": [str(red.id), str(blue.id)]}, follow_redirects=True
    )
    assert "1 of the selected notes no longer exist (deleted meanwhile) and are left out." in response.text
    assert "Shouted 1." in response.text
    response = editor.post(
        NOTES + "action", data={"action": "delete", "ids": [str(blue.id)], "confirmed": "1"}, follow_redirects=True
    )
    assert "the selected notes no longer exist (deleted meanwhile). Nothing was changed." in response.text
    db_session.expire_all()
    assert db_session.get(scoped.Note, red.id).title == "RED 00"
    assert db_session.get(scoped.Note, blue.id).title == "Blue 00"


def dashboard_count(client: t.Any) -> str:
    """The "Records" widget's number of notes."""
    page = client.get("/admin/").text
    row = re.search(r"Notes</a>\s*</t[dh]>\s*<td[^>]*>\s*([^<\s]*)", page)
    assert row is not None, page
    return row.group(1)


def test_the_dashboard_counts_the_scope(editor, notes, db_session):
    assert dashboard_count(editor) == str(RED)  # no statistics yet: counted exactly, within the scope


def test_the_foreign_key_search_returns_only_the_scope(editor, admin_client, notes):
    found = editor.get("/_forms/fk/scoped_note/team_id?q=")
    assert found.status_code == 200
    assert [row["label"] for row in found.json["results"]] == ["red"]
    assert editor.get("/_forms/fk/scoped_note/team_id?q=blue").json["results"] == []
    everything = admin_client.get("/_forms/fk/scoped_note/team_id?q=").json["results"]
    assert sorted(row["label"] for row in everything) == ["blue", "red"]


def test_a_scope_that_returns_no_select_names_the_view(app):
    from admin_sample import scoped

    from erlen_admin import AdminConfigError, ModelView

    view = ModelView(scoped.Note, scope=lambda statement, user: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(AdminConfigError, match=r"'scoped_note'.*not a Select"):
        view.scoped(sa.select(scoped.Note), object())
    with pytest.raises(ValueError, match=r"read its rows for a user"):
        view.scoped(sa.select(scoped.Note), None)
    with pytest.raises(AdminConfigError, match="scope must be a function"):
        ModelView(scoped.Note, scope="team_id")  # type: ignore[arg-type]


def test_the_audit_log_shows_a_scoped_model_s_entries_of_the_scope_only(app, editor, admin_client, notes, db_session):
    """The changed values of another team's note are that note's: its entries are outside the editor's scope."""
    from erlen_auth import Role, grant

    red, blue = notes["red"][0], notes["blue"][0]
    admin_client.post(f"{NOTES}{red.id}/edit", data={"title": "Red renamed", "team_id": str(red.team_id)})
    admin_client.post(f"{NOTES}{blue.id}/edit", data={"title": "Blue renamed", "team_id": str(blue.team_id)})
    role = db_session.scalar(sa.select(Role).where(Role.name == "editor"))
    grant(role, "admin.audit.view", app=app)
    db_session.commit()
    for text in (editor.get("/admin/m/audit/").text, editor.get("/admin/m/audit/export.csv").text):
        assert "Red renamed" in text and "Blue renamed" not in text
    dashboard = editor.get("/admin/").text
    assert "Red renamed" in dashboard and "Blue renamed" not in dashboard
    assert '<desc id="activity-desc">1 change in all' in dashboard
    assert "Blue renamed" in admin_client.get("/admin/m/audit/").text


MEMOS = "/admin/m/scoped_memo/"


@pytest.fixture
def memos(notes, db_session, scoped) -> dict[str, t.Any]:
    """A memo of each team (memos are not scoped, their teams are)."""
    red_team, blue_team = notes["red"][0].team_id, notes["blue"][0].team_id
    made = {
        "red": scoped.Memo(title="Memo R", team_id=red_team),
        "blue": scoped.Memo(title="Memo B", team_id=blue_team),
    }
    db_session.add_all(made.values())
    db_session.commit()
    return made


def options(html: str, name: str) -> list[str]:
    """The labels of the options of the select ``name``."""
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.DOTALL)
    assert select is not None, html
    return [
        label for label in re.findall(r"<option[^>]*>([^<]*)</option>", select.group(1)) if label not in ("", "All")
    ]


@pytest.mark.parametrize("limit", [100, 0], ids=["select", "search"])
def test_a_foreign_key_offers_and_accepts_only_the_related_scope(
    app, editor, admin_client, memos, db_session, scoped, limit
):
    """A memo's team is chosen among the editor's own teams (teams are scoped); another team's key is refused
    as a key no row has. With limit 0 the fields are search inputs, checked by a query instead of the options."""
    app.config["FORMS_FK_SELECT_LIMIT"] = limit
    red_team, blue_team = memos["red"].team_id, memos["blue"].team_id
    if limit:
        assert options(editor.get(MEMOS + "new").text, "team_id") == ["red"]
        assert options(editor.get(NOTES + "new").text, "team_id") == ["red"]
        assert options(editor.get(f"{MEMOS}{memos['red'].id}/edit").text, "team_id") == ["red"]
        assert options(editor.get(MEMOS).text, "f_team_id") == ["red"]  # the list's filter
        assert options(admin_client.get(MEMOS + "new").text, "team_id") == ["blue", "red"]
    else:  # the search input's suggestions
        found = editor.get("/_forms/fk/scoped_memo/team_id?q=").json["results"]
        assert [row["label"] for row in found] == ["red"]
    missing = blue_team + red_team + 1000

    def answer(path: str, team: int) -> tuple[int, str]:
        response = editor.post(path, data={"title": "Planted", "team_id": str(team)})
        text = re.sub(r'name="csrf_token" value="[^"]*"', "", response.text).replace(f'"{team}"', '"<id>"')
        return response.status_code, text

    for path in (MEMOS + "new", f"{MEMOS}{memos['red'].id}/edit", NOTES + "new"):
        status, said = answer(path, blue_team)
        assert (status, said) == answer(path, missing), path
        assert status == 200 and "Not a valid choice." in said
    db_session.expire_all()
    assert db_session.scalar(sa.select(scoped.Memo).where(scoped.Memo.title == "Planted")) is None
    assert db_session.scalar(sa.select(scoped.Note).where(scoped.Note.title == "Planted")) is None
    assert db_session.get(scoped.Memo, memos["red"].id).team_id == red_team
    # The editor's own team is accepted; the superuser may choose any.
    assert editor.post(MEMOS + "new", data={"title": "Mine", "team_id": str(red_team)}).status_code == 302
    assert admin_client.post(MEMOS + "new", data={"title": "Theirs", "team_id": str(blue_team)}).status_code == 302


@pytest.mark.parametrize("limit", [100, 0], ids=["select", "search"])
def test_a_related_row_outside_the_scope_keeps_its_key_unnamed(app, editor, memos, db_session, scoped, limit):
    """Editing the blue team's memo (memos are not scoped) keeps its team, shown as its bare key, never named."""
    app.config["FORMS_FK_SELECT_LIMIT"] = limit
    blue = memos["blue"]
    page = editor.get(f"{MEMOS}{blue.id}/edit").text
    assert "blue" not in page
    assert f'<option value="{blue.team_id}"' in page
    response = editor.post(f"{MEMOS}{blue.id}/edit", data={"title": "Memo B2", "team_id": str(blue.team_id)})
    assert response.status_code == 302, response.text
    db_session.expire_all()
    assert (db_session.get(scoped.Memo, blue.id).title, db_session.get(scoped.Memo, blue.id).team_id) == (
        "Memo B2",
        memos["blue"].team_id,
    )


def test_labels_of_related_rows_outside_the_scope_are_not_shown(editor, admin_client, memos):
    """The list, the detail page and the export show another team's key alone, as for a row that does not exist,
    without a link to it; the editor's own team is named and linked."""
    red, blue = memos["red"], memos["blue"]
    listed = editor.get(MEMOS).text
    assert f'<a href="/admin/m/scoped_team/{red.team_id}/">red (#{red.team_id})</a>' in listed
    assert '<td data-label="Team">' + str(blue.team_id) + "</td>" in listed
    assert "blue" not in listed
    detail = editor.get(f"{MEMOS}{blue.id}/").text
    assert "blue" not in detail and f"/admin/m/scoped_team/{blue.team_id}/" not in detail
    exported = list(csv.reader(io.StringIO(editor.get(MEMOS + "export.csv").text)))
    assert sorted(row[2] for row in exported[1:]) == sorted([f"red (#{red.team_id})", str(blue.team_id)])
    # The superuser's scope holds every team.
    assert f"blue (#{blue.team_id})" in admin_client.get(MEMOS).text


def summary(html: str, team: t.Any = None) -> str:
    """The list page's summary line (its count or estimate), with the team filter's value taken out of its links."""
    found = re.search(r'<p class="summary" id="summary">(.*?)</p>', html, re.DOTALL)
    assert found is not None, html
    text = " ".join(found.group(1).split())
    return text if team is None else text.replace(f"f_team_id={team}", "f_team_id=<id>")


def test_estimates_tell_nothing_of_the_rows_outside_the_scope(editor, admin_client, notes, db_session, scoped):
    """A planner's estimate comes from the whole table's statistics: for a scoped list it would tell how many
    rows outside the scope a filter or search matches (another team's "About 3040 notes match", against "About
    1" for a team that does not exist). A scoped list shows none, and the dashboard counts the scope."""
    blue_team = notes["blue"][0].team_id
    db_session.execute(
        sa.insert(scoped.Note), [{"title": f"Secret plan {index}", "team_id": blue_team} for index in range(3000)]
    )
    db_session.commit()
    sqlite = db_session.get_bind().dialect.name == "sqlite"
    db_session.execute(sa.text("ANALYZE" if sqlite else "ANALYZE scoped_note"))
    db_session.commit()
    missing = blue_team + 1000
    hidden, absent = editor.get(f"{NOTES}?f_team_id={blue_team}").text, editor.get(f"{NOTES}?f_team_id={missing}").text
    assert summary(hidden, blue_team) == summary(absent, missing)
    searched = summary(editor.get(NOTES + "?q=Secret").text)
    assert searched == summary(editor.get(NOTES + "?q=Nowhere").text).replace("q=Nowhere", "q=Secret")
    assert "About" not in summary(editor.get(NOTES).text)
    assert dashboard_count(editor) == str(RED)
    # Counting on request counts the scope; the superuser's list, not narrowed, keeps the table's estimate.
    assert f"{RED} notes in all." in editor.get(NOTES + "?count=1").text
    assert "About" in summary(admin_client.get(NOTES).text)


@pytest.mark.parametrize("deleted", ["through the admin", "elsewhere"])
def test_a_reused_key_does_not_show_the_entries_of_the_row_it_was_before(
    app, editor, admin_client, notes, db_session, scoped, deleted
):
    """SQLite gives a new row the highest key again once its row is deleted (PostgreSQL, after a sequence is set
    back): the red note made with a deleted blue note's key must not show the editor the blue note's audit
    entries, its values before and at its deletion, which belong to another row."""
    from erlen_auth import Role, grant

    role = db_session.scalar(sa.select(Role).where(Role.name == "editor"))
    grant(role, "admin.audit.view", app=app)
    db_session.commit()
    top = max(note.id for note in notes["blue"])
    team = str(notes["blue"][0].team_id)
    assert admin_client.post(f"{NOTES}{top}/edit", data={"title": "Blue secret", "team_id": team}).status_code == 302
    if deleted == "through the admin":
        assert admin_client.post(f"{NOTES}{top}/delete").status_code == 302
        # Made outside the admin (a script, an import), so no entry says where the red note begins.
        db_session.execute(sa.insert(scoped.Note).values(id=top, title="Red again", team_id=notes["red"][0].team_id))
        db_session.commit()
    else:
        db_session.execute(sa.delete(scoped.Note).where(scoped.Note.id == top))
        if db_session.get_bind().dialect.name == "postgresql":
            db_session.execute(
                sa.text("SELECT setval(pg_get_serial_sequence('scoped_note', 'id'), :top)"), {"top": top - 1}
            )
        db_session.commit()
        response = editor.post(NOTES + "new", data={"title": "Red again", "team_id": str(notes["red"][0].team_id)})
        assert response.headers["Location"] == f"{NOTES}{top}/"
    listed = editor.get("/admin/m/audit/").text
    assert "Red again" in listed or deleted == "through the admin"
    for text in (listed, editor.get("/admin/m/audit/export.csv").text, editor.get("/admin/").text):
        assert "Blue" not in text
    history = editor.get(f"/admin/m/audit/?f_model=scoped_note&f_object_id={top}").text
    assert "Blue" not in history
    from erlen_admin.models import AuditEntry

    blue_entries = db_session.scalars(sa.select(AuditEntry.id).where(AuditEntry.object_repr.like("Blue%"))).all()
    assert blue_entries and all(editor.get(f"/admin/m/audit/{entry}/").status_code == 404 for entry in blue_entries)
    assert "Blue secret" in admin_client.get("/admin/m/audit/").text  # the superuser's: every entry


@pytest.mark.parametrize("purged", ["bulk", "object"])
def test_a_key_reused_after_an_action_deleted_its_row_does_not_show_the_row_s_entries(
    app, editor, admin_client, notes, db_session, scoped, purged
):
    """A bulk or object action other than "Delete selected" may delete its rows (the sample's "Purge"): its
    entries record deletions too, so a red note made outside the admin with the purged blue note's key does not
    show the editor the blue note's entries (they were shown: "bulk:purge" was not taken for a deletion)."""
    from erlen_auth import Role, grant

    role = db_session.scalar(sa.select(Role).where(Role.name == "editor"))
    grant(role, "admin.audit.view", app=app)
    db_session.commit()
    top = max(note.id for note in notes["blue"])
    team = str(notes["blue"][0].team_id)
    assert admin_client.post(f"{NOTES}{top}/edit", data={"title": "Blue secret", "team_id": team}).status_code == 302
    if purged == "bulk":
        response = admin_client.post(NOTES + "action", data={"action": "purge", "ids": [str(top)]})
    else:
        response = admin_client.post(f"{NOTES}{top}/do/purge")
    assert response.status_code == 302
    assert db_session.get(scoped.Note, top, populate_existing=True) is None
    # Made outside the admin (a script, an import), so no entry says where the red note begins.
    db_session.execute(sa.insert(scoped.Note).values(id=top, title="Red again", team_id=notes["red"][0].team_id))
    db_session.commit()
    history = editor.get(f"/admin/m/audit/?f_model=scoped_note&f_object_id={top}").text
    for text in (history, editor.get("/admin/m/audit/").text, editor.get("/admin/m/audit/export.csv").text):
        assert "Blue" not in text
    from erlen_admin.models import AuditEntry

    entries = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.object_id == str(top))).all()
    prefix = "bulk:" if purged == "bulk" else "action:"
    assert [entry.action for entry in entries] == ["edit", f"{prefix}purge (deleted)"]
    assert all(editor.get(f"/admin/m/audit/{entry.id}/").status_code == 404 for entry in entries)
    # The superuser's log names the deletion, with the deleted row's values.
    page = admin_client.get(f"/admin/m/audit/{entries[-1].id}/").text
    assert "Blue secret" in page


@pytest.mark.parametrize("erlen_plugins", [[*PLUGINS, "admin_sample.scoped", "admin_sample.retired_teams"]])
def test_another_plugin_narrowing_the_foreign_key_search_keeps_the_scope(
    editor, admin_client, memos, db_session, scoped
):
    """erlen-forms' search of a foreign key is narrowed by every plugin that narrows it: a plugin leaving out
    retired teams does not undo the admin's scope (the first narrowing used to replace the others)."""
    db_session.add(scoped.Team(name="retired"))
    db_session.commit()
    for path in ("/_forms/fk/scoped_memo/team_id?q=", "/_forms/fk/scoped_note/team_id?q="):
        assert [row["label"] for row in editor.get(path).json["results"]] == ["red"], path
        assert sorted(row["label"] for row in admin_client.get(path).json["results"]) == ["blue", "red"], path
    blue_team = memos["blue"].team_id
    assert editor.get(f"/_forms/fk/scoped_memo/team_id?q={blue_team}").json["results"] == []


@pytest.mark.parametrize("erlen_plugins", [[*PLUGINS, "admin_sample.all_teams", "admin_sample.scoped"]])
def test_a_second_unscoped_view_of_a_scoped_model_does_not_lift_its_scope(
    app, editor, admin_client, memos, db_session, scoped
):
    """Teams have three views: "All teams", unscoped, and "Partner teams", which the editor may not view,
    registered first, and the scoped one. The editor's foreign keys to teams offer, suggest and name the teams
    of the scopes of the views they may view, whichever view was registered first."""
    from erlen_auth import Role, grant

    red, blue = memos["red"], memos["blue"]
    assert editor.get(f"/admin/m/all_teams/{blue.team_id}/").status_code == 403
    assert options(editor.get(MEMOS + "new").text, "team_id") == ["red"]
    assert [row["label"] for row in editor.get("/_forms/fk/scoped_memo/team_id?q=").json["results"]] == ["red"]
    listed = editor.get(MEMOS).text
    assert f"red (#{red.team_id})" in listed and "blue" not in listed
    assert editor.post(MEMOS + "new", data={"title": "Planted", "team_id": str(blue.team_id)}).status_code == 200
    # The superuser sees every team through either view.
    assert options(admin_client.get(MEMOS + "new").text, "team_id") == ["blue", "red"]
    # Allowed to view the partner teams too, the editor chooses among the teams of both scopes.
    role = db_session.scalar(sa.select(Role).where(Role.name == "editor"))
    grant(role, "admin.partner_teams.view", app=app)
    db_session.commit()
    assert options(editor.get(MEMOS + "new").text, "team_id") == ["blue", "red"]
    found = editor.get("/_forms/fk/scoped_memo/team_id?q=").json["results"]
    assert [row["label"] for row in found] == ["blue", "red"]
    # Allowed to view all teams, nothing narrows them.
    grant(role, "admin.all_teams.view", app=app)
    db_session.add(scoped.Team(name="green"))
    db_session.commit()
    assert options(editor.get(MEMOS + "new").text, "team_id") == ["blue", "green", "red"]


def test_foreign_keys_in_sub_forms_and_lists_of_a_views_own_form_are_narrowed_too(app, notes, scoped, create_user):
    """A view whose own form class (create_form_class/edit_form_class) nests a foreign key in a FormField or a
    FieldList: only the top-level fields were narrowed, so the nested select offered and accepted every team."""
    from wtforms import FieldList, FormField

    from erlen_admin.related import restrict_choices
    from erlen_forms import Form, ModelSelectField

    class Pick(Form):
        team = ModelSelectField("Team", column=scoped.Note.__table__.c.team_id)

    class Nested(Form):
        top = FormField(Pick)
        many = FieldList(FormField(Pick), min_entries=2)

    red = create_user("red-nested@example.com")
    blue_id = notes["blue"][0].team_id
    submitted = {"top-team": str(blue_id), "many-0-team": str(blue_id), "many-1-team": str(blue_id)}
    with app.test_request_context("/", method="POST", data=submitted):
        form = Nested()
        restrict_choices(form, red)
        picks = [form.top.form.team, *(entry.form.team for entry in form.many.entries)]
        assert [[label for _, label in pick.choices] for pick in picks] == [["red"]] * 3
        assert not form.validate()
        assert [pick.errors for pick in picks] == [["Not a valid choice."]] * 3
