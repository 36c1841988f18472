"""The migration shipped in erlen_auth/migrations creates exactly the tables of the models."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import erlen_db

pytest.importorskip(
    "erlen_migrate", reason="erlen-migrate is not installed: the migration is tested in the integration session"
)


def run(app, *args: str, ok: bool = True):
    result = app.test_cli_runner().invoke(args=["db", *args])
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def test_upgrade_creates_the_tables_and_check_agrees(auth_app):
    app = auth_app(["migrate"])
    upgraded = run(app, "upgrade")
    assert "auth" in upgraded.output
    engine = erlen_db.database_of(app).engine
    tables = set(sa.inspect(engine).get_table_names())
    assert {
        "auth_user",
        "auth_role",
        "auth_user_role",
        "auth_role_permission",
        "auth_session",
        "auth_access_token",
        "auth_totp",
        "auth_identity",
        "auth_passkey",
        "auth_account_deletion",
        "auth_email_change",
        "auth_known_device",
        "auth_recovery_code",
    } <= tables
    assert run(app, "check").output == "Models and migrations agree.\n"
    # The migrated tables work: a user made through the app, and case-insensitive uniqueness.
    from erlen_auth.testing import make_user

    user = make_user(app, "ada@example.com")
    assert user.created_at is not None
    with pytest.raises(ValueError, match="exists already"):
        make_user(app, "ADA@example.com")
    run(app, "downgrade", "--plugin", "auth", "base")
    assert not {"auth_user", "auth_role", "auth_session"} & set(sa.inspect(engine).get_table_names())


def test_the_plugin_tells_migrate_where_its_migrations_are(auth_app):
    from pathlib import Path

    import erlen
    import erlen_auth.plugin

    app = auth_app(["migrate"])
    found = dict((p.name, r) for p, r in erlen.plugins_of(app).call_each("erlen_migrate_locations"))
    assert found["auth"] == "migrations"
    folder = Path(erlen_auth.plugin.__file__).parent / "migrations"
    revisions = sorted(path.name for path in folder.glob("*.py") if not path.name.startswith("_"))
    assert "3040392e085a_initial.py" in revisions
    assert 'branch_labels: str | Sequence[str] | None = ("auth",)' in (folder / "3040392e085a_initial.py").read_text()
