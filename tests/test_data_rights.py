"""Deleting an account leaves nothing behind, in any plugin: the example app with erlen-profiles, on both databases.

A user gets data in every plugin that keeps some (auth: sessions, roles, the
deletion request; profiles: a profile; notes: notes), deletes the account
through the pages, and once the grace period is over the purge deletes it.
Then every foreign key of the database that points at ``auth_user.id``,
whichever plugin's table holds it, is read from the database itself
(SQLAlchemy's inspector, not the models) and no row may still carry the
user's id. A deliberately bad plugin (a table referring to users without
``ON DELETE CASCADE`` and no delete hook) proves the check bites: the
deletion then fails cleanly, naming the plugin and its table, and leaves
everything as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")
pytest.importorskip("erlen_profiles", reason="erlen-profiles is not installed: pip install ./examples/profiles")

import notes_app

import erlen_db
from erlen_auth import AccountDeletion, User
from erlen_auth.data_rights import purge_deleted
from erlen_auth.testing import DEFAULT_PASSWORD, FAST_HASHING, make_user
from erlen_forms.testing import csrf_client_for

#: The plugins of the example app (its erlen.toml), to which a test adds the bad plugin.
EXAMPLE_PLUGINS = ["db", "forms", "mail", "migrate", "auth", "admin", "api", "profiles", "notes_app.notes"]


MakeNotesApp = Callable[..., Flask]


@pytest.fixture
def make_notes_app(database_url: str, tmp_path: Path) -> Iterator[MakeNotesApp]:
    """The example app on ``database_url`` (SQLite or a PostgreSQL schema), migrated, with more plugins if asked."""
    made: list[Flask] = []

    def make(*plugins: str, **environ: str) -> Flask:
        variables = {
            "ERLEN_DB_URL": database_url,
            "ERLEN_MAIL_FILE_PATH": str(tmp_path / "mail"),
            "ERLEN_PLUGINS": json.dumps([*EXAMPLE_PLUGINS, *plugins]),
            **{f"ERLEN_{key}": str(value) for key, value in FAST_HASHING.items()},
            **environ,
        }
        app = notes_app.create_app(variables, instance_path=str(tmp_path / "instance"))
        app.config["TESTING"] = True
        made.append(app)
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        erlen_db.database_of(app).create_all()  # the tables of a plugin without migrations (the bad one)
        return app

    yield make
    for app in made:
        erlen_db.database_of(app).dispose()


def _fill(app: Flask, email: str) -> tuple[int, FlaskClient]:
    """A user with data in every plugin: a role, a profile, two notes, a log-in session; logged in."""
    from erlen_profiles.models import Profile

    user = make_user(app, email, roles=["writer"])
    with app.app_context():
        erlen_db.session.add(Profile(user_id=user.id, display_name=email.split("@")[0].title(), bio="Engines"))
        erlen_db.session.commit()
    client = csrf_client_for(app)
    assert client.post("/auth/login", data={"email": email, "password": DEFAULT_PASSWORD}).status_code == 302
    for title in ("Engines", "Looms"):
        assert client.post("/notes/new", data={"title": title, "body": "They weave algebra."}).status_code == 302
    return user.id, client


def references_to(app: Flask, user_id: int) -> dict[str, int]:
    """Rows referring to ``user_id``, by ``table.column``, for every foreign key to ``auth_user.id`` in the database."""
    engine = erlen_db.database_of(app).engine
    inspector = sa.inspect(engine)
    found: dict[str, int] = {}
    with engine.connect() as connection:
        for table in inspector.get_table_names():
            for key in inspector.get_foreign_keys(table):
                if key["referred_table"] != "auth_user" or key["referred_columns"] != ["id"]:
                    continue
                (column,) = key["constrained_columns"]
                count = connection.scalar(
                    sa.select(sa.func.count()).select_from(sa.table(table)).where(sa.column(column) == user_id)
                )
                found[f"{table}.{column}"] = count or 0
    return found


def test_a_deleted_account_leaves_no_row_referring_to_it_in_any_plugin(make_notes_app: MakeNotesApp) -> None:
    app = make_notes_app()
    ada, client = _fill(app, "ada@example.com")
    bob, _ = _fill(app, "bob@example.com")
    before = references_to(app, ada)
    # The check covers every plugin's tables, and each held something of Ada's.
    for column in (
        "auth_session.user_id",
        "auth_user_role.user_id",
        "profiles_profile.user_id",
        "notes_note.author_id",
    ):
        assert before[column] >= 1, before
    assert "auth_account_deletion.user_id" in before

    page = client.post("/auth/delete", data={"email": "ada@example.com"})
    assert page.status_code == 200 and "Your account will be deleted" in page.text
    assert references_to(app, ada)["auth_account_deletion.user_id"] == 1
    with app.app_context():
        assert purge_deleted(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=8)) == (1, [])
        assert erlen_db.session.get(User, ada) is None
        assert erlen_db.session.scalar(sa.select(sa.func.count()).select_from(AccountDeletion)) == 0

    left = {column: count for column, count in references_to(app, ada).items() if count}
    assert left == {}, f"rows still refer to the deleted user: {left}"
    assert references_to(app, bob) == before  # Bob's data is untouched (same shape as Ada's was)


def test_a_plugin_that_leaves_rows_behind_stops_the_deletion_cleanly(make_notes_app: MakeNotesApp) -> None:
    from data_rights_orphans_models import Bookmark

    app = make_notes_app("data_rights_orphans", ERLEN_AUTH_DELETION_GRACE_DAYS="0")
    ada, client = _fill(app, "ada@example.com")
    with app.app_context():
        erlen_db.session.add(Bookmark(user_id=ada, url="https://example.com/"))
        erlen_db.session.commit()
    before = references_to(app, ada)
    assert before["orphans_bookmark.user_id"] == 1

    page = client.post("/auth/delete", data={"email": "ada@example.com"})
    assert page.status_code == 503  # not a 500, and nothing half-done
    assert "could not be deleted" in page.text and "Nothing was deleted" in page.text
    assert references_to(app, ada) == before
    with app.app_context():
        assert erlen_db.session.get(User, ada) is not None

    result = app.test_cli_runner().invoke(args=["user", "delete", "ada@example.com", "--yes"])
    assert result.exit_code == 1
    assert "Plugin 'orphans' keeps 1 row of orphans_bookmark" in result.output
    assert "orphans_bookmark.user_id" in result.output and "erlen_auth_user_delete" in result.output
    assert references_to(app, ada) == before

    # Once the plugin's rows are gone (what its delete hook should have done), the deletion goes through.
    with app.app_context():
        erlen_db.session.execute(sa.delete(Bookmark).where(Bookmark.user_id == ada))
        erlen_db.session.commit()
    result = app.test_cli_runner().invoke(args=["user", "delete", "ada@example.com", "--yes"])
    assert result.exit_code == 0, result.output
    assert not any(references_to(app, ada).values())
