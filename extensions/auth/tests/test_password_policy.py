"""The password policy: length, the shipped list of common passwords (or the app's), the email's local part;
shown on the forms before submit, applied by every form that sets a password and by the CLI."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from auth_helpers import is_logged_in, log_in, post_form

import erlen
from erlen_auth import password_policy
from erlen_auth.testing import DEFAULT_PASSWORD, make_user

COMMON = "1234567890"  # in Django's list, and long enough: refused for being common, not short
GOOD = "unusual violet tractor"


def register(client, email="ada@example.com", password=GOOD):
    return post_form(client, "/auth/register", {"email": email, "password": password, "confirm": password})


def test_the_list_ships_with_the_package_with_its_attribution():
    shipped = password_policy.SHIPPED_LIST
    assert shipped.is_file() and shipped.name == "common-passwords.txt.gz"
    with gzip.open(shipped, "rt", encoding="utf-8") as lines:
        assert sum(1 for _ in lines) > 19000
    notice = (shipped.parent / "NOTICE").read_text()
    assert "Django" in notice and "Royce Williams" in notice and "Redistribution and use" in notice
    listed = password_policy.load_list(str(shipped))
    assert {"password", "qwerty", COMMON} <= listed
    assert password_policy.load_list(str(shipped)) is listed  # read once per process


def test_a_common_password_is_refused_at_registration_whatever_its_case(auth_app):
    app = auth_app(create_all=True)
    for password in (COMMON, "QWERTYUIOP", " Password123 "):
        response = register(app.test_client(), password=password)
        assert response.status_code == 200
        assert "one of the most common ones" in response.text, password
    assert register(app.test_client()).status_code == 302


def test_the_check_can_be_turned_off(auth_app):
    app = auth_app(config={"AUTH_PASSWORD_REJECT_COMMON": False}, create_all=True)
    assert register(app.test_client(), password=COMMON).status_code == 302
    assert "Not a common password" not in app.test_client().get("/auth/register").text


def test_the_apps_own_list_replaces_the_shipped_one(auth_app, tmp_path):
    plain = tmp_path / "ours.txt"
    plain.write_text("Our Company Name 2026\n\n", encoding="utf-8")
    app = auth_app(config={"AUTH_PASSWORD_COMMON_LIST": str(plain)}, create_all=True)
    assert "one of the most common" in register(app.test_client(), password="our company name 2026").text
    assert register(app.test_client(), password=COMMON).status_code == 302  # not in the app's list
    packed = tmp_path / "ours.txt.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as out:
        out.write("gzipped secret 1\n")
    assert "gzipped secret 1" in password_policy.load_list(str(packed))


def test_a_missing_list_stops_the_app_and_an_unreadable_one_is_a_clear_error(auth_app, tmp_path):
    with pytest.raises(erlen.ConfigError, match="AUTH_PASSWORD_COMMON_LIST"):
        auth_app(config={"AUTH_PASSWORD_COMMON_LIST": str(tmp_path / "missing.txt")})
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00not text")
    app = auth_app(config={"AUTH_PASSWORD_COMMON_LIST": str(binary)})
    with app.app_context(), pytest.raises(erlen.ConfigError, match="AUTH_PASSWORD_COMMON_LIST"):
        password_policy.problems(GOOD, app.config)


def test_length_limits_are_still_enforced(auth_app):
    app = auth_app(config={"AUTH_PASSWORD_MIN_LENGTH": 12, "AUTH_PASSWORD_MAX_LENGTH": 20}, create_all=True)
    assert "Use at least 12 characters." in register(app.test_client(), password="short one").text
    assert "Use at most 20 characters." in register(app.test_client(), password="x" * 21).text


def test_a_password_made_of_the_email_address_is_refused(auth_app):
    app = auth_app(create_all=True)
    for password in ("ada.lovelace", "my ADA.LOVELACE pw", "ada.lovelace@example.com"):
        response = register(app.test_client(), "Ada.Lovelace@example.com", password)
        assert "must not contain your email address" in response.text, password
    # A local part shorter than three characters is part of too many good passwords to refuse them.
    assert register(app.test_client(), "al@example.com", "totally fine words").status_code == 302


def test_the_policy_is_shown_on_the_form_before_submit(auth_app):
    app = auth_app(config={"AUTH_PASSWORD_MIN_LENGTH": 12}, create_all=True)
    page = app.test_client().get("/auth/register").text
    [field] = re.findall(r"<input[^>]*name=\"password\"[^>]*>", page)
    assert 'minlength="12"' in field and 'maxlength="1024"' in field
    assert 'aria-describedby="password-help"' in field and 'autocomplete="new-password"' in field
    assert re.search(r'<p class="erlen-help" id="password-help">At least 12 characters\. Not a common password\.', page)
    # The repeated password is checked for equality only: no policy text there.
    [repeat] = re.findall(r"<input[^>]*name=\"confirm\"[^>]*>", page)
    assert "minlength" not in repeat


def test_the_change_form_shows_and_applies_the_policy(auth_app):
    app = auth_app(create_all=True)
    make_user(app, "grace@example.com")
    client = app.test_client()
    log_in(client, "grace@example.com")
    assert "Not a common password." in client.get("/auth/password").text
    for password, message in ((COMMON, "most common"), ("grace is my password", "email address")):
        response = post_form(
            client, "/auth/password", {"current": DEFAULT_PASSWORD, "password": password, "confirm": password}
        )
        assert response.status_code == 200 and message in response.text
    assert is_logged_in(client)


def test_the_reset_form_applies_the_policy_with_the_accounts_address(auth_app):
    pytest.importorskip("erlen_mail", reason="reset needs erlen-mail")
    from erlen_auth import tokens

    app = auth_app(["mail"], {"MAIL_DEFAULT_SENDER": "noreply@example.com"}, create_all=True)
    user = make_user(app, "grace@example.com")
    client = app.test_client()
    with app.test_request_context():
        token = tokens.make_token(tokens.RESET, user, app)
    page = client.get(f"/auth/reset/{token}").text
    assert "Not a common password." in page and 'minlength="10"' in page
    for password, message in ((COMMON, "most common"), ("Grace-Hopper-1906", "email address")):
        response = post_form(client, f"/auth/reset/{token}", {"password": password, "confirm": password})
        assert response.status_code == 200 and message in response.text
    assert post_form(client, f"/auth/reset/{token}", {"password": GOOD, "confirm": GOOD}).status_code == 302


@pytest.fixture
def cli(auth_app):
    app = auth_app(create_all=True)

    def run(*args: str, input: str):
        return app.test_cli_runner().invoke(args=list(args), input=input)

    return app, run


def test_the_cli_refuses_what_the_forms_refuse(cli):
    app, run = cli
    common = run("user", "create", "--email", "ada@example.com", input=f"{COMMON}\n")
    assert common.exit_code == 1 and "one of the most common ones" in common.output
    own = run("user", "create", "--email", "ada@example.com", input="ada is the best\n")
    assert own.exit_code == 1 and "must not contain your email address" in own.output
    assert run("user", "create", "--email", "ada@example.com", input=f"{GOOD}\n").exit_code == 0
    refused = run("user", "set-password", "--email", "ada@example.com", input="qwertyuiop\n")
    assert refused.exit_code == 1 and "one of the most common ones" in refused.output
    assert log_in(app.test_client(), "ada@example.com", GOOD).status_code == 302  # unchanged


def test_the_package_data_is_declared_for_the_wheel():
    # hatchling ships every file under the package folder: the list sits inside it, not beside it.
    package = Path(password_policy.__file__).parent
    assert password_policy.SHIPPED_LIST.parent.parent == package
