"""The admin's searches go through the indexes the shipped plugins' migrations create, on SQLite and PostgreSQL.

The example app is upgraded on a fresh database; every searchable admin view
(erlen-auth's users and roles, erlen-admin's audit log, the notes, erlen-profiles)
then has its index, ``erlen check`` has nothing to say about it, and the list page
finds the same rows through it as without it. With the index dropped, the page still
lists the right rows and says that it read every row, and ``erlen check`` warns.
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")

from example_apps import example_app

import erlen_db
from erlen_db.search import drop_search_index, search_index_columns

SEARCHED = {
    "auth_user": {"email"},
    "auth_role": {"name"},
    "admin_audit_log": {"object_repr", "user_email"},
    "notes_note": {"title", "body"},
    "profiles_profile": {"display_name"},
}


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Flask:
    app = example_app(tmp_path, database_url=database_url)
    yield app
    erlen_db.database_of(app).dispose()


def titles(html: str) -> list[str]:
    return re.findall(r"<td[^>]*>(Note [^<]*)</td>", html)


def admin_client(app: Flask) -> t.Any:
    from erlen_auth import find_user
    from erlen_auth.testing import login_as

    client = app.test_client()
    with app.app_context():
        login_as(client, find_user("admin@example.com"))
    return client


def test_searches_use_the_indexes_and_stay_right_without_them(app: Flask) -> None:
    from notes_app.notes.models import Note

    from erlen_auth import find_user

    database = erlen_db.database_of(app)
    with database.engine.connect() as connection:
        for table, columns in SEARCHED.items():
            assert columns <= search_index_columns(connection, table), table
    check = app.test_cli_runner().invoke(args=["check"])
    assert "admin.W002" not in check.output, check.output

    with app.app_context():
        author = find_user("admin@example.com")
        session = database.session
        session.add_all(
            Note(title=f"Note {index} {'Needle' if index % 7 == 0 else 'hay'}", body="", author_id=author.id)
            for index in range(40)
        )
        session.add(Note(title="Note in the body", body="a NEEDLE_with_underscore", author_id=author.id))
        session.commit()
        note = session.scalar(sa.select(Note).where(Note.title == "Note 14 Needle"))
        note.title = "Note 14 renamed"  # the update trigger keeps the index up to date
        session.commit()
    client = admin_client(app)
    expected = ["Note in the body", *(f"Note {i} Needle" for i in range(35, -1, -7) if i != 14)]

    def search(text: str) -> tuple[list[str], bool]:
        page = client.get("/admin/m/notes_note/", query_string={"q": text, "per_page": 50})
        assert page.status_code == 200
        return titles(page.text), "read every row" in page.text

    statements: list[str] = []

    def record(conn: t.Any, cursor: t.Any, statement: str, *args: t.Any) -> None:
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    assert search("needle") == (expected, False)
    sa.event.remove(database.engine, "before_cursor_execute", record)
    searched = [s for s in statements if "notes_note" in s and "LIMIT" in s]
    assert searched, statements
    if database.engine.dialect.name == "sqlite":
        assert "MATCH" in searched[0] and "lower(" not in searched[0], searched[0]
    else:
        assert "ILIKE" in searched[0], searched[0]
    assert search("NEEDLE_w") == (["Note in the body"], False)  # _ is a character, not a wildcard
    assert search("eedle_w") == (["Note in the body"], False)
    assert search("no such text") == ([], False)
    assert search("14") == (["Note 14 renamed"], False)  # too short for trigrams: scanned, but found
    assert client.get("/admin/m/auth_user/", query_string={"q": "ADMIN@example"}).text.count("admin@example.com") >= 1

    with database.engine.begin() as connection:
        drop_search_index(connection, "notes_note", ["title", "body"])
    app.extensions.pop("admin.search_indexes", None)  # the page remembers a present index
    assert search("needle") == (expected, True)
    assert search("NEEDLE_w") == (["Note in the body"], True)
    check = app.test_cli_runner().invoke(args=["check"])
    assert "admin.W002" in check.output and "'notes_note'" in check.output and "title, body" in check.output


def test_the_migrations_go_down_and_up_again(app: Flask) -> None:
    runner = app.test_cli_runner()
    # Down to the revision before each plugin's search indexes (erlen-auth's has a revision after it).
    for plugin, table, target in (
        ("notes", "notes_note", "-1"),
        ("auth", "auth_user", "9b3e61c4d2a7"),
        ("profiles", "profiles_profile", "-1"),
    ):
        down = runner.invoke(args=["db", "downgrade", "--plugin", plugin, target])
        assert down.exit_code == 0, down.output
        with erlen_db.database_of(app).engine.connect() as connection:
            assert not search_index_columns(connection, table)
    up = runner.invoke(args=["db", "upgrade"])
    assert up.exit_code == 0, up.output
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    with erlen_db.database_of(app).engine.connect() as connection:
        for table, columns in SEARCHED.items():
            assert columns <= search_index_columns(connection, table), table
