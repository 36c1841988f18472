"""The "Your sessions" page: lists the user's log-in sessions and signs devices out."""

from __future__ import annotations

import re

import sqlalchemy as sa
from auth_helpers import is_logged_in, log_in, post_form

from erlen_auth.models import LoginSession


def _session_ids(page_text: str) -> list[int]:
    return [int(found) for found in re.findall(r'<li id="session-(\d+)"', page_text)]


def _devices(app, create_user):
    create_user("ada@example.com")
    here, phone, laptop = app.test_client(), app.test_client(), app.test_client()
    here.environ_base.update(HTTP_USER_AGENT="HereBrowser/1", REMOTE_ADDR="192.0.2.1")
    phone.environ_base.update(HTTP_USER_AGENT="PhoneBrowser/2", REMOTE_ADDR="198.51.100.2")
    laptop.environ_base.update(HTTP_USER_AGENT="LaptopBrowser/3", REMOTE_ADDR="203.0.113.3")
    log_in(here, "ada@example.com")
    log_in(phone, "ada@example.com", remember=True)
    phone.delete_cookie("session")  # the phone is logged in by its remember-me cookie alone
    log_in(laptop, "ada@example.com")
    return here, phone, laptop


def _id_of(db_session, user_agent: str) -> int:
    return db_session.scalar(sa.select(LoginSession.id).where(LoginSession.user_agent == user_agent))


def test_the_page_lists_every_device_this_one_first(app, create_user, db_session):
    here, _, _ = _devices(app, create_user)
    create_user("bob@example.com")
    log_in(app.test_client(), "bob@example.com")  # someone else's session is not listed
    page = here.get("/auth/sessions")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    text = page.text
    assert "<h1>Your sessions</h1>" in text
    ids = _session_ids(text)
    assert ids[0] == _id_of(db_session, "HereBrowser/1")
    assert sorted(ids) == sorted(
        _id_of(db_session, ua) for ua in ("HereBrowser/1", "PhoneBrowser/2", "LaptopBrowser/3")
    )
    assert "HereBrowser/1 <strong>(this device)</strong>" in text and text.count("(this device)") == 1
    assert "198.51.100.2" in text and "PhoneBrowser/2" in text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    # One form per other device (this one's is the account menu's "Log out"), "every other device", and that menu.
    assert text.count('name="csrf_token"') == 4
    # Ending another device's session is destructive: the layout's danger button, not the primary one.
    assert text.count('<button type="submit" class="erlen-button-danger">Log out this device</button>') == 2
    # Worded as the account menu's "Log out" beside it, never "Sign out" / "signed in".
    assert ">Log out every other device</button>" in text and "sign out" not in text.lower()
    assert "signed in" not in text.lower()


def test_signing_out_a_device_logs_it_out_at_its_next_request(app, create_user, db_session):
    here, phone, laptop = _devices(app, create_user)
    phone_id = _id_of(db_session, "PhoneBrowser/2")
    response = post_form(here, f"/auth/sessions/{phone_id}/end")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/sessions"
    assert "That device was logged out." in here.get("/auth/sessions").text
    assert not is_logged_in(phone)  # its remember-me cookie no longer works
    assert is_logged_in(here) and is_logged_in(laptop)
    assert phone_id not in _session_ids(here.get("/auth/sessions").text)


def test_signing_out_this_device_logs_out(app, create_user, db_session):
    here, phone, _ = _devices(app, create_user)
    response = post_form(here, f"/auth/sessions/{_id_of(db_session, 'HereBrowser/1')}/end")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert not is_logged_in(here)
    assert is_logged_in(phone)


def test_every_other_device_can_be_signed_out_at_once(app, create_user, db_session):
    here, phone, laptop = _devices(app, create_user)
    response = post_form(here, "/auth/sessions/end-others")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/sessions"
    assert is_logged_in(here)
    assert not is_logged_in(phone) and not is_logged_in(laptop)
    assert len(_session_ids(here.get("/auth/sessions").text)) == 1


def test_another_users_session_cannot_be_signed_out(app, create_user, db_session):
    here, _, _ = _devices(app, create_user)
    create_user("bob@example.com")
    bob = app.test_client()
    log_in(bob, "bob@example.com")
    bob_id = db_session.scalar(sa.select(LoginSession.id).order_by(LoginSession.id.desc()).limit(1))
    response = post_form(here, f"/auth/sessions/{bob_id}/end")
    assert response.status_code == 302
    assert "That session had ended already." in here.get("/auth/sessions").text
    assert is_logged_in(bob)


def test_the_forms_need_a_csrf_token_and_a_log_in(app, create_user, db_session):
    here, phone, _ = _devices(app, create_user)
    phone_id = _id_of(db_session, "PhoneBrowser/2")
    assert here.post(f"/auth/sessions/{phone_id}/end").status_code == 400
    assert here.post("/auth/sessions/end-others").status_code == 400
    assert here.get(f"/auth/sessions/{phone_id}/end").status_code == 405
    assert is_logged_in(phone)
    anonymous = app.test_client()
    assert anonymous.get("/auth/sessions").headers["Location"] == "/auth/login?next=/auth/sessions"
    assert post_form(anonymous, f"/auth/sessions/{phone_id}/end").status_code == 302
    assert is_logged_in(phone)
    assert here.get("/auth/sessions/99999999999999999999999/end").status_code in (404, 405)


def test_the_password_pages_link_to_the_sessions_page(app, create_user):
    here, _, _ = _devices(app, create_user)
    assert 'href="/auth/sessions"' in here.get("/auth/password").text
    assert 'href="/auth/sessions"' in here.get("/auth/logout-everywhere").text


def test_a_known_browser_is_named_as_a_person_names_it(app, create_user):
    """A browser's ``User-Agent`` (five lines of tokens on a phone) is shown as "Firefox on Linux"."""
    create_user("ada@example.com")
    here = app.test_client()
    here.environ_base.update(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
    log_in(here, "ada@example.com")
    text = here.get("/auth/sessions").text
    assert "<p>Firefox on Linux <strong>(this device)</strong></p>" in text
    assert "Mozilla/5.0" not in text
