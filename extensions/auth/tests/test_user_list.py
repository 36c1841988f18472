"""``erlen user list``: filters, a table for people and ``--json`` for scripts, never a secret."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def run(app, cli_runner, db_session):
    def invoke(*args: str, ok: bool = True):
        result = cli_runner.invoke(args=["user", "list", *args])
        if ok:
            assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    return invoke


@pytest.fixture
def people(create_user):
    return [
        create_user("root@example.com", superuser=True),
        create_user("ada@example.com", roles=["editors"]),
        create_user("bob@example.com", active=False),
        create_user("cy_x@example.com", confirmed=False, roles=["editors", "support"]),
    ]


def emails(result) -> list[str]:
    return [row["email"] for row in json.loads(result.output)]


def test_json_lists_every_user_by_id_without_secrets(run, people):
    rows = json.loads(run("--json").output)
    assert [row["email"] for row in rows] == [user.email for user in people]
    assert set(rows[0]) == {
        "id",
        "email",
        "is_active",
        "is_superuser",
        "email_confirmed_at",
        "last_login_at",
        "created_at",
        "roles",
    }
    assert rows[3]["roles"] == ["editors", "support"] and rows[3]["email_confirmed_at"] is None
    text = run("--json").output + run().output
    for user in people:
        assert user.password_hash not in text and user.session_token not in text


def test_filters(run, people):
    assert emails(run("--json", "--inactive")) == ["bob@example.com"]
    assert emails(run("--json", "--active", "--superuser")) == ["root@example.com"]
    assert emails(run("--json", "--not-superuser", "--role", "editors")) == ["ada@example.com", "cy_x@example.com"]
    assert emails(run("--json", "--unconfirmed")) == ["cy_x@example.com"]
    assert emails(run("--json", "--confirmed", "--active")) == ["root@example.com", "ada@example.com"]
    assert emails(run("--json", "--search", "ADA")) == ["ada@example.com"]
    # LIKE's wildcards are text: "_" matches only an underscore.
    assert emails(run("--json", "--search", "_x")) == ["cy_x@example.com"]
    assert emails(run("--json", "--search", "nobody")) == []


def test_table_and_errors(run, people):
    table = run().output.splitlines()
    assert table[0].split()[:3] == ["ID", "EMAIL", "ACTIVE"]
    assert any("bob@example.com" in line and " no " in line for line in table)
    assert "never" in table[1]
    assert run("--search", "nobody").output.strip() == "No users match."
    missing = run("--role", "nope", ok=False)
    assert missing.exit_code != 0 and "There is no role 'nope'" in missing.output
