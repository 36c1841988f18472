"""erlen user, erlen role and erlen permissions."""

from __future__ import annotations

import pytest
from auth_helpers import is_logged_in, log_in

from erlen_auth import Role, User, find_user


@pytest.fixture
def erlen_plugins():
    return ["db", "forms", "auth", "auth_sample_plugins.blog"]


@pytest.fixture
def run(app, cli_runner, db_session):
    def invoke(*args: str, input: str | None = None, ok: bool = True):
        result = cli_runner.invoke(args=list(args), input=input)
        if ok:
            assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    return invoke


def _user(app, email):
    with app.app_context():
        user = find_user(email)
        assert user.roles is not None  # loaded before the context's session closes
        return user


def _user_or_none(app, email):
    with app.app_context():
        return find_user(email)


def test_user_create_reads_the_password_from_stdin(app, run):
    result = run("user", "create", "--email", "Ada@Example.com", input="a good long password\n")
    assert "Created user" in result.output
    assert "a good long password" not in result.output
    user = _user(app, "ada@example.com")
    assert user.email == "Ada@Example.com" and not user.is_superuser
    assert log_in(app.test_client(), "ada@example.com", "a good long password").status_code == 302


def test_the_password_is_asked_for_without_echo_on_a_terminal(app, monkeypatch):
    import sys

    import click

    from erlen_auth.cli import _read_password

    asked = {}

    def fake_prompt(text, **kwargs):
        asked.update(kwargs)
        return "typed without echo!"

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.setattr(click, "prompt", fake_prompt)
    monkeypatch.setattr(sys, "stdin", Terminal())
    with app.app_context():
        assert _read_password() == "typed without echo!"
    assert asked == {"hide_input": True, "confirmation_prompt": True}


def test_mismatched_passwords_on_a_terminal_are_refused(app, run, monkeypatch):
    import sys

    from erlen_auth import cli

    class Terminal:  # click's prompts read the runner's input; only the check for a terminal is faked
        def __getattr__(self, name):
            return getattr(sys, name)

        @property
        def stdin(self):
            class Stdin:
                def isatty(self):
                    return True

            return Stdin()

    monkeypatch.setattr(cli, "sys", Terminal())
    result = run("user", "create", "--email", "ada@example.com", input="a good long password\nanother one\n", ok=False)
    assert result.exit_code == 1
    assert "The two entered values do not match." in result.output
    assert _user_or_none(app, "ada@example.com") is None


def test_an_empty_password_on_stdin_is_refused_with_what_to_do(app, run):
    for given in ("", "\n"):
        result = run("user", "create", "--email", "ada@example.com", input=given, ok=False)
        assert result.exit_code == 1
        assert "No password on standard input" in result.output, result.output
    assert _user_or_none(app, "ada@example.com") is None


@pytest.mark.parametrize(
    ("email", "why"),
    [
        # email-validator's words: "must have an @-sign" from 2.2 on, "must have exactly one @-sign" before.
        ("", "@-sign"),
        ("not an email", "@-sign"),
        ("ada@", "There must be something after the @-sign"),
        ("a" * 300 + "@example.com", "too long"),
    ],
)
def test_user_create_refuses_a_malformed_email(run, email, why):
    result = run("user", "create", "--email", email, input="a good long password\n", ok=False)
    assert result.exit_code == 1
    assert "--email:" in result.output and "is not a valid email address" in result.output
    assert why in result.output, result.output
    assert "Traceback" not in result.output


def test_user_create_refuses_an_email_whose_key_is_too_long(app, run, db_session):
    from erlen_auth import User

    # Valid, 32 characters, but NFKC makes a key of 372 of it: more than the email_key column holds.
    result = run("user", "create", "--email", "\ufdfa" * 20 + "@example.com", input="a good long password\n", ok=False)
    assert result.exit_code == 1
    assert "--email:" in result.output and "too long once normalised" in result.output, result.output
    assert "Traceback" not in result.output
    assert db_session.query(User).count() == 0


@pytest.mark.parametrize("name", ["", "   ", "r" * 81])
def test_role_create_refuses_a_malformed_name(run, name):
    result = run("role", "create", name, ok=False)
    assert result.exit_code == 1
    assert "NAME: give a role name that is not blank, of at most 80 characters." in result.output
    assert "No roles" in run("role", "list").output


def test_user_create_superuser_with_roles(app, run):
    run("role", "create", "editor", "--description", "Writes posts")
    run(
        "user",
        "create",
        "--email",
        "root@example.com",
        "--superuser",
        "--role",
        "editor",
        input="a good long password\n",
    )
    user = _user(app, "root@example.com")
    assert user.is_superuser and [role.name for role in user.roles] == ["editor"]


def test_user_create_refusals(run):
    run("user", "create", "--email", "ada@example.com", input="a good long password\n")
    taken = run("user", "create", "--email", "ADA@example.com", input="a good long password\n", ok=False)
    assert taken.exit_code == 1 and "exists already" in taken.output
    short = run("user", "create", "--email", "bob@example.com", input="short\n", ok=False)
    assert "between 10 and 1024 characters" in short.output
    role = run(
        "user", "create", "--email", "bob@example.com", "--role", "nope", input="a good long password\n", ok=False
    )
    assert "There is no role 'nope'" in role.output


def test_set_password_ends_sessions(app, run):
    run("user", "create", "--email", "ada@example.com", input="a good long password\n")
    client = app.test_client()
    log_in(client, "ada@example.com", "a good long password")
    run("user", "set-password", "--email", "ada@example.com", input="another long password\n")
    assert not is_logged_in(client)
    assert log_in(client, "ada@example.com", "another long password").status_code == 302
    missing = run("user", "set-password", "--email", "nobody@example.com", input="x\n", ok=False)
    assert "There is no user" in missing.output


def test_deactivate_ends_sessions_and_log_ins(app, run):
    run("user", "create", "--email", "ada@example.com", input="a good long password\n")
    client = app.test_client()
    log_in(client, "ada@example.com", "a good long password", remember=True)
    run("user", "deactivate", "--email", "ada@example.com")
    assert not is_logged_in(client)
    assert log_in(client, "ada@example.com", "a good long password").status_code == 200
    run("user", "activate", "--email", "ada@example.com")
    assert log_in(client, "ada@example.com", "a good long password").status_code == 302


def test_roles(app, run):
    run("role", "create", "editor")
    assert "exists already" in run("role", "create", "editor", ok=False).output
    granted = run("role", "grant", "editor", "blog.publish", "blog.moderate")
    assert "blog.moderate, blog.publish" in granted.output
    unknown = run("role", "grant", "editor", "blog.publsh", ok=False)
    assert "Unknown permission 'blog.publsh'" in unknown.output
    run("role", "revoke", "editor", "blog.moderate")
    run("user", "create", "--email", "ada@example.com", "--role", "editor", input="a good long password\n")
    run("user", "add-role", "--email", "ada@example.com", "editor")
    listing = run("role", "list").output
    assert "editor (1 users)" in listing
    assert "  blog.publish" in listing and "blog.moderate" not in listing
    with app.app_context():
        assert find_user("ada@example.com").can("blog.publish")
    run("user", "remove-role", "--email", "ada@example.com", "editor")
    with app.app_context():
        assert not find_user("ada@example.com").roles
    assert "There is no role 'ghost'" in run("role", "grant", "ghost", "blog.publish", ok=False).output


def test_role_list_when_empty(run):
    assert "No roles" in run("role", "list").output


def test_permissions_lists_every_permission_with_its_plugin(run):
    output = run("permissions").output
    lines = {line.split()[0]: line for line in output.splitlines()}
    assert "[blog]" in lines["blog.publish"] and "Publish posts" in lines["blog.publish"]
    assert "[auth]" in lines["auth.manage_users"]


def test_models_in_the_shell_context(app):
    context = app.make_shell_context()
    assert context["User"] is User and context["Role"] is Role


def test_end_sessions(app, run):
    run("user", "create", "--email", "ada@example.com", input="a good long password\n")
    client = app.test_client()
    log_in(client, "ada@example.com", "a good long password", remember=True)
    assert "Ended every session" in run("user", "end-sessions", "--email", "ada@example.com").output
    assert not is_logged_in(client)
    assert log_in(client, "ada@example.com", "a good long password").status_code == 302
