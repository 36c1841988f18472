"""TOTP two-factor authentication: set-up, the second sign-in step, recovery codes, requiring it, turning it off.

Every test runs on SQLite and PostgreSQL, through the real views with CSRF
tokens. Time is a fake clock (``state_of(app).clock``): codes are computed
for it with pyotp, and nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t

import pyotp
import pytest
import sqlalchemy as sa
from auth_helpers import is_logged_in, log_in, post_form, set_cookies

import erlen
from erlen_auth import SecondFactor, state_of
from erlen_auth.models import LoginSession, User
from erlen_auth.testing import DEFAULT_PASSWORD, make_user
from erlen_auth.totp_models import RecoveryCode, TotpCredential
from erlen_db import database_of

try:
    import erlen_mail  # noqa: F401
except ImportError:  # pragma: no cover - the integration session has it
    MAIL: list[str] = []
else:
    MAIL = ["mail"]

#: A time in the middle of a 30-second step, so that the steps before and after are whole.
START = 1_800_000_015.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tf_app(auth_app, clock):
    """An app (with mail when installed, so notices are queued) whose two-factor clock is ``clock``."""

    def make(**config: t.Any):
        settings = {"MAIL_DEFAULT_SENDER": "noreply@example.com"} if MAIL else {}
        app = auth_app(MAIL, {**settings, **config}, create_all=True)
        state_of(app).clock = clock
        return app

    return make


def code_at(secret: str, when: float) -> str:
    return pyotp.TOTP(secret).at(when)


def enrol(app, client, email: str = "ada@example.com") -> tuple[str, list[str]]:
    """Log ``client`` in as a new user and turn TOTP on through the pages; the secret and the recovery codes."""
    make_user(app, email)
    assert log_in(client, email).status_code == 302
    page = client.get("/auth/two-factor/setup")
    assert page.status_code == 200
    secret = secret_of(page.text)
    done = post_form(client, "/auth/two-factor/setup", {"code": code_at(secret, START)})
    assert done.status_code == 200 and "Your recovery codes" in done.text, done.text
    return secret, codes_of(done.text)


def secret_of(text: str) -> str:
    found = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', text)
    assert found, text
    return found.group(1).replace(" ", "")


def codes_of(text: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code></li>", text)


def with_db(app, work: t.Callable[[t.Any], t.Any]) -> t.Any:
    with app.app_context(), database_of(app).session_scope() as session:
        return work(session)


def outbox_subjects(app) -> list[tuple[str, str]]:
    if not MAIL:
        return []
    from erlen_mail.outbox.models import OutboxMessage

    def read(session):
        found = session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))
        return [(row.subject, row.recipients) for row in found]

    return with_db(app, read)


def second_step(client, code: str, **kwargs: t.Any):
    return post_form(client, "/auth/two-factor", {"code": code}, **kwargs)


def make_old_reauthentication(app) -> None:
    """Every log-in session proved who its user is long ago (as if AUTH_REAUTH_MINUTES had passed)."""

    def age(session):
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
        session.execute(sa.update(LoginSession).values(reauthenticated_at=long_ago))
        session.commit()

    with_db(app, age)


# Setting it up


def test_setup_shows_a_local_svg_qr_code_and_the_secret_then_a_wrong_code_is_refused_and_a_right_one_turns_it_on(
    tf_app, clock
):
    app = tf_app()
    client = app.test_client()
    make_user(app, "ada@example.com")
    log_in(client, "ada@example.com")
    page = client.get("/auth/two-factor/setup")
    assert page.status_code == 200
    text = page.text
    assert re.search(r'<svg [^>]*class="erlen-auth-qr-code"', text) and "<path" in text  # drawn here, inline
    assert "<img" not in text and "https://" not in text  # no QR code service, no CDN
    secret = secret_of(text)
    assert len(secret) == 32
    assert client.get("/auth/two-factor/setup").text.count(" ".join(secret[i : i + 4] for i in range(0, 32, 4))) == 1
    # A wrong code (or none of the right shape) turns nothing on.
    for wrong in ("000000", "12345", "abcdef", "1" * 64, "\x00"):
        response = post_form(client, "/auth/two-factor/setup", {"code": wrong})
        assert response.status_code == 200
        assert 'id="code-errors"' in response.text
    assert with_db(app, lambda s: s.scalar(sa.select(TotpCredential.confirmed_at))) is None
    done = post_form(client, "/auth/two-factor/setup", {"code": code_at(secret, clock.now)})
    assert done.status_code == 200
    codes = codes_of(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = with_db(app, lambda s: list(s.scalars(sa.select(RecoveryCode.code_hash))))
    assert len(stored) == 10 and not {code.replace("-", "") for code in codes} & set(stored)
    row = with_db(app, lambda s: s.scalar(sa.select(TotpCredential)))
    assert row.confirmed_at is not None and secret not in row.secret  # encrypted at rest
    security = client.get("/auth/security").text
    assert "Two-factor authentication" in security and "<strong>On</strong>" in security
    assert "10 recovery codes left." in security
    # Once on, the set-up page sends back to the security page.
    assert client.get("/auth/two-factor/setup").headers["Location"] == "/auth/security"


def test_the_security_section_comes_after_the_password(tf_app):
    app = tf_app()
    client = app.test_client()
    make_user(app, "ada@example.com")
    log_in(client, "ada@example.com")
    text = client.get("/auth/security").text
    assert text.index('-title">Password</h2>') < text.index("Two-factor authentication</h2>")
    assert "<strong>Off</strong>" in text and "/auth/two-factor/setup" in text


def test_a_code_is_accepted_one_step_either_side_for_clock_drift_but_not_two(tf_app, clock):
    app = tf_app()
    client = app.test_client()
    make_user(app, "ada@example.com")
    log_in(client, "ada@example.com")
    secret = secret_of(client.get("/auth/two-factor/setup").text)
    too_old = post_form(client, "/auth/two-factor/setup", {"code": code_at(secret, clock.now - 60)})
    assert "This code is not right" in too_old.text
    late = post_form(client, "/auth/two-factor/setup", {"code": code_at(secret, clock.now - 30)})
    assert "Your recovery codes" in late.text


# The second step


def test_signing_in_asks_for_a_code_after_the_password_and_nobody_is_logged_in_meanwhile(tf_app, clock):
    app = tf_app()
    secret, _ = enrol(app, app.test_client())
    client = app.test_client()
    form = {"email": "ada@example.com", "password": DEFAULT_PASSWORD, "next": "/auth/sessions"}
    first = post_form(client, "/auth/login", form)
    assert first.status_code == 302 and first.headers["Location"] == "/auth/two-factor"
    sessions_before = with_db(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(LoginSession)))
    # Pending: no page behind a log-in opens, no log-in session was made.
    assert not is_logged_in(client)
    assert client.get("/auth/security").status_code == 302
    assert client.get("/auth/sessions").headers["Location"].startswith("/auth/login")
    page = client.get("/auth/two-factor")
    assert page.status_code == 200 and 'autocomplete="one-time-code"' in page.text
    # Worded as the log-in page before it: "Log in", never "Sign in" (the walk found both, one page apart).
    assert ">Log in</button>" in page.text
    assert "Cancel and log in as someone else" in page.text and "Sign in" not in page.text
    clock.advance(30)
    done = second_step(client, code_at(secret, clock.now))
    assert done.status_code == 302 and done.headers["Location"] == "/auth/sessions"
    assert is_logged_in(client)
    sessions_after = with_db(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(LoginSession)))
    assert sessions_after == sessions_before + 1
    # The pending sign-in is gone: the page sends to the log-in page.
    assert client.get("/auth/two-factor").headers["Location"] == "/auth/login"


def test_a_replayed_code_is_refused_and_an_earlier_one_too(tf_app, clock):
    app = tf_app()
    secret, _ = enrol(app, app.test_client())
    clock.advance(30)
    code = code_at(secret, clock.now)
    first = app.test_client()
    log_in(first, "ada@example.com")
    assert second_step(first, code).status_code == 302
    thief = app.test_client()
    log_in(thief, "ada@example.com")
    replay = second_step(thief, code)
    assert replay.status_code == 200 and "This code is not right, or was used already." in replay.text
    assert second_step(thief, code_at(secret, clock.now - 30)).status_code == 200  # older than the last used
    assert not is_logged_in(thief)
    clock.advance(30)
    assert second_step(thief, code_at(secret, clock.now)).status_code == 302  # the next step's code works


def test_a_recovery_code_signs_in_once(tf_app):
    app = tf_app()
    _, codes = enrol(app, app.test_client())
    client = app.test_client()
    log_in(client, "ada@example.com")
    typed = "  " + codes[3].upper().replace("-", " - ") + " "  # case, blanks and dashes do not matter
    assert second_step(client, typed).status_code == 302
    assert is_logged_in(client)
    again = app.test_client()
    log_in(again, "ada@example.com")
    refused = second_step(again, codes[3])
    assert refused.status_code == 200 and "was used already" in refused.text
    assert not is_logged_in(again)
    assert "9 recovery codes left." in client.get("/auth/security").text


def test_wrong_codes_are_throttled_per_account_even_the_right_one_past_the_limit(tf_app, clock):
    app = tf_app(AUTH_THROTTLE_ACCOUNT_LIMIT=3)
    secret, _ = enrol(app, app.test_client())
    client = app.test_client()
    log_in(client, "ada@example.com")
    for _ in range(3):
        assert second_step(client, "000000").status_code == 200
    clock.advance(30)
    refused = second_step(client, code_at(secret, clock.now))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many wrong codes" in refused.text
    assert not is_logged_in(client)
    # Counted apart from passwords: the password still works (and leads to the same refusal).
    other = app.test_client()
    assert log_in(other, "ada@example.com").headers["Location"] == "/auth/two-factor"
    assert second_step(other, code_at(secret, clock.now)).status_code == 429


def test_a_pending_sign_in_expires(tf_app, clock):
    app = tf_app()
    secret, _ = enrol(app, app.test_client())
    client = app.test_client()
    log_in(client, "ada@example.com")
    clock.advance(301)
    late = second_step(client, code_at(secret, clock.now))
    assert late.status_code == 302 and late.headers["Location"] == "/auth/login"
    assert not is_logged_in(client)
    assert "Your log-in has expired" in client.get("/auth/login").text


def test_no_pending_sign_in_or_a_forged_one_opens_nothing(tf_app, clock):
    app = tf_app()
    secret, _ = enrol(app, app.test_client())
    ada = with_db(app, lambda s: s.scalar(sa.select(User.id)))
    client = app.test_client()
    client.get("/auth/login")
    assert client.get("/auth/two-factor").headers["Location"] == "/auth/login"
    assert second_step(client, code_at(secret, clock.now + 30)).headers["Location"] == "/auth/login"
    forged = [
        {"user": ada, "remember": False, "next": "", "started": clock.now, "fingerprint": "0" * 32},
        {"user": "1", "started": clock.now},
        {"user": True, "remember": False, "next": "", "started": clock.now, "fingerprint": "x"},
        {"user": ada, "remember": False, "next": [], "started": "now", "fingerprint": None},
        {"user": ada, "remember": False, "next": "", "started": clock.now + 3600, "fingerprint": "0" * 32},
        "not a mapping",
    ]
    for pending in forged:
        with client.session_transaction() as session:
            session["_erlen_auth_pending"] = pending
        assert client.get("/auth/two-factor").headers["Location"] == "/auth/login", pending
        assert second_step(client, code_at(secret, clock.now + 30)).status_code == 302
        assert not is_logged_in(client)
    # A session cookie not signed with the app's key is ignored.
    client.set_cookie("session", "eyJfZXJsZW5fYXV0aF9wZW5kaW5nIjp7fX0.forged.signature")
    assert client.get("/auth/two-factor").headers["Location"] == "/auth/login"


def test_a_password_reset_ends_a_pending_sign_in(tf_app, clock):
    app = tf_app()
    secret, _ = enrol(app, app.test_client())
    client = app.test_client()
    log_in(client, "ada@example.com")

    def end_sessions(session):
        from erlen_auth import end_sessions, find_user

        end_sessions(find_user("ada@example.com", db=session), db=session)

    with_db(app, end_sessions)
    assert second_step(client, code_at(secret, clock.now + 30)).headers["Location"] == "/auth/login"


def test_remember_me_is_set_only_after_the_second_step(tf_app, clock):
    app = tf_app()
    secret, _ = enrol(app, app.test_client())
    client = app.test_client()
    first = log_in(client, "ada@example.com", remember=True)
    assert "remember_token" not in set_cookies(first)
    done = second_step(client, code_at(secret, clock.now + 30))
    assert "remember_token" in set_cookies(done)
    client.delete_cookie("session")
    assert is_logged_in(client)  # by the remember-me cookie alone


def test_a_passkey_sign_in_has_no_second_step_and_other_factors_plug_in(tf_app, auth_app):
    from flask import request

    from erlen_auth import complete_second_factor, find_user, finish_login, pending_user

    app = tf_app()
    state_of(app).second_factors.append(
        SecondFactor("fake", lambda user: user.email == "bob@example.com", "auth/two_factor/fake_part.html")
    )
    from jinja2 import ChoiceLoader, DictLoader

    app.jinja_loader = ChoiceLoader(
        [DictLoader({"auth/two_factor/fake_part.html": "<p>FAKE {{ pending_user.email }}</p>"}), app.jinja_loader]
    )

    def passkey() -> t.Any:
        return finish_login(find_user(request.args["email"]), method="passkey")

    def fake() -> t.Any:
        if pending_user() is None:
            return "none", 400
        return complete_second_factor("fake")

    app.add_url_rule("/test/passkey", "test_passkey", passkey)
    app.add_url_rule("/test/fake", "test_fake", fake)
    enrol(app, app.test_client())
    make_user(app, "bob@example.com")
    client = app.test_client()
    assert client.get("/test/passkey?email=ada@example.com").status_code == 302
    assert is_logged_in(client)
    bob = app.test_client()
    assert log_in(bob, "bob@example.com").headers["Location"] == "/auth/two-factor"
    page = bob.get("/auth/two-factor").text
    assert "<p>FAKE bob@example.com</p>" in page and 'name="code"' not in page  # no TOTP nor recovery codes
    assert not is_logged_in(bob)
    assert bob.get("/test/fake").headers["Location"] == "/"
    assert is_logged_in(bob)
    assert app.test_client().get("/test/fake").status_code == 400


# Requiring it


def test_required_by_setting_users_without_it_can_only_set_it_up_or_log_out(tf_app, clock):
    app = tf_app(AUTH_TWO_FACTOR_REQUIRED=True)
    make_user(app, "ada@example.com")
    client = app.test_client()
    assert log_in(client, "ada@example.com").status_code == 302  # no second factor yet: logged in, then held
    held = client.get("/auth/sessions")
    assert held.status_code == 302 and held.headers["Location"] == "/auth/two-factor/setup?next=/auth/sessions"
    assert client.get("/auth/security").headers["Location"].startswith("/auth/two-factor/setup")
    assert client.get("/nowhere").status_code in (302, 404)
    json = client.get("/auth/sessions", headers={"Accept": "application/json"})
    assert json.status_code == 403 and json.json["error"] == "two_factor_required"
    page = client.get("/auth/two-factor/setup?next=/auth/sessions")
    assert page.status_code == 200 and "Your account needs two-factor authentication" in page.text
    assert "Not now" not in page.text
    secret = secret_of(page.text)
    done = post_form(client, "/auth/two-factor/setup", {"code": code_at(secret, clock.now), "next": "/auth/sessions"})
    assert 'href="/auth/sessions"' in done.text
    assert client.get("/auth/sessions").status_code == 200
    # It cannot be turned off.
    assert client.get("/auth/two-factor/disable").status_code == 403
    assert post_form(client, "/auth/two-factor/disable").status_code == 403
    assert "Turn off two-factor" not in client.get("/auth/security").text
    # Log-out is always allowed.
    other = app.test_client()
    make_user(app, "bob@example.com")
    log_in(other, "bob@example.com")
    assert post_form(other, "/auth/logout").status_code == 302
    assert not is_logged_in(other)


def test_required_by_permission_only_for_those_who_hold_it(tf_app):
    from erlen_auth import grant
    from erlen_auth.models import Role

    app = tf_app(AUTH_TWO_FACTOR_REQUIRED_PERMISSIONS=["auth.manage_users"])
    make_user(app, "admin@example.com", roles=["staff"])
    make_user(app, "ada@example.com")

    def give(session):
        grant(session.scalar(sa.select(Role).where(Role.name == "staff")), "auth.manage_users", app=app)
        session.commit()

    with_db(app, give)
    admin, ada = app.test_client(), app.test_client()
    log_in(admin, "admin@example.com")
    log_in(ada, "ada@example.com")
    assert admin.get("/auth/sessions").headers["Location"].startswith("/auth/two-factor/setup")
    assert ada.get("/auth/sessions").status_code == 200
    superuser = app.test_client()
    make_user(app, "root@example.com", superuser=True)
    log_in(superuser, "root@example.com")
    assert superuser.get("/auth/sessions").status_code == 302


def test_an_unknown_permission_in_the_setting_stops_the_app(auth_app):
    with pytest.raises(erlen.ConfigError, match=r"AUTH_TWO_FACTOR_REQUIRED_PERMISSIONS names 'admin\.acces'"):
        auth_app(config={"AUTH_TWO_FACTOR_REQUIRED_PERMISSIONS": ["admin.acces"]})


# Turning it off, new recovery codes, resetting it


def test_turning_it_off_needs_a_recent_password(tf_app, clock):
    app = tf_app()
    client = app.test_client()
    enrol(app, client)
    make_old_reauthentication(app)
    asked = client.get("/auth/two-factor/disable")
    assert asked.status_code == 302 and asked.headers["Location"].startswith("/auth/reauthenticate?next=")
    assert post_form(client, "/auth/two-factor/disable").headers["Location"].startswith("/auth/reauthenticate")
    assert client.get("/auth/two-factor/recovery-codes").headers["Location"].startswith("/auth/reauthenticate")
    assert with_db(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(TotpCredential))) == 1
    post_form(client, "/auth/reauthenticate", {"password": DEFAULT_PASSWORD, "next": "/auth/two-factor/disable"})
    page = client.get("/auth/two-factor/disable")
    assert page.status_code == 200
    # Destructive: the layout's red danger button, not a blue primary one (render_form's danger=True).
    assert '<button type="submit" class="erlen-button-danger">Turn off two-factor authentication</button>' in page.text
    off = post_form(client, "/auth/two-factor/disable")
    assert off.status_code == 302 and off.headers["Location"] == "/auth/security"
    assert with_db(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(TotpCredential))) == 0
    assert with_db(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(RecoveryCode))) == 0
    again = app.test_client()
    assert log_in(again, "ada@example.com").headers["Location"] == "/"  # the password alone again
    assert is_logged_in(again)


def test_new_recovery_codes_replace_the_old_ones(tf_app):
    app = tf_app()
    client = app.test_client()
    _, old = enrol(app, client)
    page = client.get("/auth/two-factor/recovery-codes")
    assert page.status_code == 200 and '<strong id="recovery-codes-left">10</strong>' in page.text
    new = codes_of(post_form(client, "/auth/two-factor/recovery-codes").text)
    assert len(new) == 10 and not set(new) & set(old)
    other = app.test_client()
    log_in(other, "ada@example.com")
    assert second_step(other, old[0]).status_code == 200
    assert second_step(other, new[0]).status_code == 302


def test_the_cli_resets_a_users_second_factor(tf_app):
    app = tf_app()
    enrol(app, app.test_client())
    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "two-factor", "reset", "ADA@example.com"])
    assert result.exit_code == 0, result.output
    assert "Reset the two-factor authentication of <ada@example.com>" in result.output
    client = app.test_client()
    assert log_in(client, "ada@example.com").headers["Location"] == "/"
    assert is_logged_in(client)
    again = runner.invoke(args=["user", "two-factor", "reset", "ada@example.com"])
    assert again.exit_code == 0 and "nothing changed" in again.output
    unknown = runner.invoke(args=["user", "two-factor", "reset", "nobody@example.com"])
    assert unknown.exit_code != 0 and "There is no user with the email 'nobody@example.com'" in unknown.output


def test_the_forms_are_csrf_protected(tf_app):
    from erlen_forms.testing import assert_csrf_protected

    app = tf_app()
    endpoints = {result.endpoint for result in assert_csrf_protected(app)}
    assert {"auth.two_factor", "auth.two_factor_setup", "auth.two_factor_disable"} <= endpoints


# Notices


@pytest.mark.skipif(not MAIL, reason="erlen-mail is not installed: notices are tested in the integration session")
def test_each_change_queues_its_notice(tf_app, clock):
    app = tf_app()
    client = app.test_client()
    enrol(app, client)
    codes = codes_of(post_form(client, "/auth/two-factor/recovery-codes").text)
    other = app.test_client()
    log_in(other, "ada@example.com")
    assert second_step(other, codes[0]).status_code == 302
    assert post_form(client, "/auth/two-factor/disable").status_code == 302
    assert outbox_subjects(app) == [
        ("Two-factor authentication is on", '["ada@example.com"]'),
        ("You have new recovery codes", '["ada@example.com"]'),
        ("A recovery code was used to log in", '["ada@example.com"]'),
        ("New log-in to your account", '["ada@example.com"]'),  # the other browser, once past the second step
        ("Two-factor authentication is off", '["ada@example.com"]'),
    ]


@pytest.mark.skipif(not MAIL, reason="erlen-mail is not installed: notices are tested in the integration session")
def test_a_notice_and_its_change_commit_together(tf_app, monkeypatch):
    from erlen_auth import find_user, notices, totp

    app = tf_app()
    enrol(app, app.test_client())
    real = notices.notify

    def queue_then_fail(*args: t.Any, **kwargs: t.Any) -> bool:
        real(*args, **kwargs)
        raise RuntimeError("the change fails after its notice was queued")

    monkeypatch.setattr(notices, "notify", queue_then_fail)
    with app.test_request_context(), pytest.raises(RuntimeError):
        totp.disable(find_user("ada@example.com"))
    # Neither the change nor its notice was committed.
    assert with_db(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(TotpCredential))) == 1
    assert [subject for subject, _ in outbox_subjects(app)] == ["Two-factor authentication is on"]


# Rotating SECRET_KEY


def test_secrets_and_recovery_codes_survive_a_key_rotation_through_the_fallbacks(tf_app, clock, caplog):
    old = tf_app(SECRET_KEY="the old secret key, long enough")
    secret, codes = enrol(old, old.test_client())
    stored = with_db(old, lambda s: s.scalar(sa.select(TotpCredential.secret)))
    rotated = tf_app(
        SECRET_KEY="the new secret key, long enough", SECRET_KEY_FALLBACKS=["the old secret key, long enough"]
    )
    client = rotated.test_client()
    log_in(client, "ada@example.com")
    clock.advance(30)
    assert second_step(client, code_at(secret, clock.now)).status_code == 302
    assert with_db(rotated, lambda s: s.scalar(sa.select(TotpCredential.secret))) != stored  # re-encrypted
    other = rotated.test_client()
    log_in(other, "ada@example.com")
    assert second_step(other, codes[0]).status_code == 302  # hashed under the old key, found through it
    # Without the old key, the secret re-encrypted under the new one still opens; the old codes do not.
    forgotten = tf_app(SECRET_KEY="the new secret key, long enough")
    third = forgotten.test_client()
    log_in(third, "ada@example.com")
    assert second_step(third, codes[1]).status_code == 200
    clock.advance(30)
    assert second_step(third, code_at(secret, clock.now)).status_code == 302
    # And an app that never had the key cannot read the secret: refused, and logged for the operator.
    stranger = tf_app(SECRET_KEY="another key altogether, long enough")
    fourth = stranger.test_client()
    log_in(fourth, "ada@example.com")
    clock.advance(30)
    with caplog.at_level("ERROR", logger="erlen_auth.totp"):
        assert second_step(fourth, code_at(secret, clock.now)).status_code == 200
    assert "cannot be decrypted with SECRET_KEY or SECRET_KEY_FALLBACKS" in caplog.text


def test_wrong_codes_are_reported_to_plugins_and_the_page_is_private(tf_app, clock, monkeypatch):
    app = tf_app()
    enrol(app, app.test_client())
    failures: list[tuple[str, str]] = []
    registry = erlen.plugins_of(app)
    real = registry.notify

    def record(name: str, **kwargs: t.Any) -> None:
        if name == "erlen_auth_login_failed":
            failures.append((kwargs["email"], kwargs["reason"]))
        real(name, **kwargs)

    monkeypatch.setattr(registry, "notify", record)
    client = app.test_client()
    log_in(client, "ada@example.com")
    page = client.get("/auth/two-factor")
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Frame-Options"] == "DENY"
    second_step(client, "123456")
    second_step(client, "not-a-recovery-code")
    assert failures == [("ada@example.com", "second_factor"), ("ada@example.com", "second_factor")]


def test_when_required_totp_can_be_turned_off_only_with_another_kind_of_second_factor(tf_app):
    app = tf_app(AUTH_TWO_FACTOR_REQUIRED=True)
    has_other: list[bool] = []
    state_of(app).second_factors.append(SecondFactor("other", lambda user: bool(has_other)))
    client = app.test_client()
    enrol(app, client)
    assert client.get("/auth/two-factor/disable").status_code == 403
    has_other.append(True)  # say, a passkey
    assert "Turn off two-factor" in client.get("/auth/security").text
    assert post_form(client, "/auth/two-factor/disable").headers["Location"] == "/auth/security"
    assert with_db(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(TotpCredential))) == 0
    assert client.get("/auth/sessions").status_code == 200  # the other factor still meets the requirement


def test_when_required_a_factor_that_does_not_stand_alone_does_not_let_totp_go(tf_app):
    # A passkey is offered as a second step only beside TOTP: turning TOTP off would leave the user without a
    # second factor, sent back to set it up at once (the loop a user with TOTP and a passkey fell into).
    app = tf_app(AUTH_TWO_FACTOR_REQUIRED=True)
    from erlen_auth import totp

    state_of(app).second_factors.append(SecondFactor("beside", totp.is_enrolled, standalone=False))
    client = app.test_client()
    enrol(app, client)
    assert "Turn off two-factor" not in client.get("/auth/security").text
    assert client.get("/auth/two-factor/disable").status_code == 403
    assert with_db(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(TotpCredential))) == 1


@pytest.mark.parametrize(
    ("config", "shown"),
    [
        ({}, "localhost"),
        ({"SITE_NAME": "Team notes"}, "Team notes"),
        ({"SITE_NAME": "Team notes", "AUTH_TWO_FACTOR_ISSUER": "Notes"}, "Notes"),
    ],
)
def test_authenticator_apps_show_the_site_name_by_default(auth_app, config, shown):
    """An app with a SITE_NAME showed its host ("127.0.0.1" on a demo) in authenticator apps."""
    from erlen_auth import totp

    app = auth_app(config=config)
    with app.test_request_context():
        assert totp.issuer() == shown
        uri = totp.provisioning_uri(User(email="ada@example.com"), pyotp.random_base32())
    assert f"issuer={shown.replace(' ', '%20')}" in uri
