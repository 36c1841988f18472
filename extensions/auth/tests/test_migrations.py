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


def _keys(app) -> dict[str, str]:
    with erlen_db.database_of(app).engine.connect() as connection:
        return dict(connection.execute(sa.text("SELECT email, email_key FROM auth_user")).all())


def test_the_email_keys_of_existing_users_are_normalised_and_back(auth_app):
    from erlen_auth.testing import make_user

    app = auth_app(["migrate"])
    run(app, "upgrade")
    make_user(app, "\uff21\uff24\uff21@example.com")
    make_user(app, "Jose\u0301@example.com")
    make_user(app, "bob@example.com")
    normalised = {
        "\uff21\uff24\uff21@example.com": "ada@example.com",
        "Jose\u0301@example.com": "jos\u00e9@example.com",
    }
    assert _keys(app) == {**normalised, "bob@example.com": "bob@example.com"}
    # Down to the revision before: the keys are the lower-cased addresses they were.
    run(app, "downgrade", "--plugin", "auth", "410881485b75")
    lower_cased = {
        "\uff21\uff24\uff21@example.com": "\uff41\uff44\uff41@example.com",
        "Jose\u0301@example.com": "jose\u0301@example.com",
    }
    assert _keys(app) == {**lower_cased, "bob@example.com": "bob@example.com"}
    run(app, "upgrade")
    assert _keys(app) == {**normalised, "bob@example.com": "bob@example.com"}
    assert run(app, "check").output == "Models and migrations agree.\n"


def test_accounts_whose_addresses_read_the_same_stop_the_upgrade_and_are_named(auth_app):
    from erlen_auth import find_user
    from erlen_auth.testing import make_user

    app = auth_app(["migrate"])
    run(app, "upgrade")
    make_user(app, "\uff21\uff24\uff21@example.com")
    run(app, "downgrade", "--plugin", "auth", "410881485b75")
    # Before this revision, a second account could take the address in ASCII.
    make_user(app, "ada@example.com")
    before = _keys(app)
    failed = run(app, "upgrade", ok=False)
    assert failed.exit_code != 0
    assert "user 1 ('\uff21\uff24\uff21@example.com') and user 2 ('ada@example.com')" in failed.output
    assert "Nothing was changed" in failed.output
    assert "Traceback" not in failed.output
    assert _keys(app) == before
    # Once one of them has another address, the upgrade goes through.
    with app.app_context():
        user = find_user("ada@example.com")
        assert user is not None and user.email == "ada@example.com"
        user.set_email("ada.lovelace@example.com")
        erlen_db.get_session().commit()
    run(app, "upgrade")
    assert _keys(app) == {
        "\uff21\uff24\uff21@example.com": "ada@example.com",
        "ada.lovelace@example.com": "ada.lovelace@example.com",
    }


def test_an_address_whose_normalised_key_is_too_long_stops_the_upgrade_and_is_named(auth_app):
    from erlen_auth.testing import make_user

    app = auth_app(["migrate"])
    run(app, "upgrade")
    run(app, "downgrade", "--plugin", "auth", "410881485b75")
    make_user(app, "short@example.com")
    # Before this revision, a valid address of 32 characters had a key of 32; NFKC makes one of 372 of it.
    long_address = "\ufdfa" * 20 + "@example.com"
    with erlen_db.database_of(app).engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE auth_user SET email = :email, email_key = :key"),
            {"email": long_address, "key": long_address.lower()},
        )
    before = _keys(app)
    failed = run(app, "upgrade", ok=False)
    assert failed.exit_code != 0
    assert f"user 1 ({long_address!r})" in failed.output
    assert "254" in failed.output and "Nothing was changed" in failed.output
    assert "Traceback" not in failed.output
    assert _keys(app) == before


def test_an_existing_key_shaped_like_a_temporary_one_does_not_stop_the_upgrade(auth_app):
    from erlen_auth.testing import make_user

    app = auth_app(["migrate"])
    run(app, "upgrade")
    run(app, "downgrade", "--plugin", "auth", "410881485b75")
    # Users made through the Python API, whose address no form checked: user 1's key is "#2", what the upgrade
    # wrote as user 2's key between its two steps (before, a unique violation stopped it: "Fix the migration").
    make_user(app, "#2")
    make_user(app, "\uff21\uff24\uff21@example.com")
    run(app, "upgrade")
    assert _keys(app) == {"#2": "#2", "\uff21\uff24\uff21@example.com": "ada@example.com"}
    run(app, "downgrade", "--plugin", "auth", "410881485b75")
    assert _keys(app) == {"#2": "#2", "\uff21\uff24\uff21@example.com": "\uff41\uff44\uff41@example.com"}
