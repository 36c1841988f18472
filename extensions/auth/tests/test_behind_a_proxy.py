"""Auth behind a reverse proxy (the core's ``TRUSTED_PROXY_HOPS``) and with ports in ``TRUSTED_HOSTS``.

Throttling counts per real client, the HTTPS origin check applies to what the
client used, and links mailed for reset and confirmation never carry a host
or port the app is not served on.
"""

from __future__ import annotations

import re
import typing as t

import pytest
from auth_helpers import log_in

from erlen_auth import find_user
from erlen_auth.testing import DEFAULT_PASSWORD, make_user

#: The proxy's address: the connection the app sees.
PROXY = {"REMOTE_ADDR": "10.0.0.2"}


def through_proxy(client_address: str, **headers: str) -> dict[str, t.Any]:
    """The request options of a request that came through one proxy from ``client_address``."""
    return {"environ_base": PROXY, "headers": {"X-Forwarded-For": client_address, **headers}}


@pytest.fixture
def proxied_app(auth_app, db_session_for):
    def make(**config: t.Any):
        app = auth_app(config={"TRUSTED_PROXY_HOPS": 1, **config})
        db_session_for(app)
        return app

    return make


def test_one_client_past_the_address_limit_does_not_lock_out_another(proxied_app):
    app = proxied_app()
    make_user(app, "ada@example.com")
    client = app.test_client()
    limit = app.config["AUTH_THROTTLE_ADDRESS_LIMIT"]
    assert limit == 20
    for index in range(limit):  # each a different unknown account: only the address limit is reached
        assert log_in(client, f"nobody{index}@example.com", "wrong", **through_proxy("203.0.113.7")).status_code == 200
    assert log_in(client, "ada@example.com", **through_proxy("203.0.113.7")).status_code == 429
    # Another client behind the same proxy: its own count, so it logs in.
    assert log_in(app.test_client(), "ada@example.com", **through_proxy("198.51.100.9")).status_code == 302


def test_a_spoofed_forwarded_address_does_not_escape_the_limit(proxied_app):
    app = proxied_app(AUTH_THROTTLE_ADDRESS_LIMIT=3)
    client = app.test_client()
    for index in range(3):
        # The client makes up an address each time; the proxy appends the one it saw, which is what counts.
        forwarded = f"192.0.2.{index}, 203.0.113.7"
        assert log_in(client, f"nobody{index}@example.com", "wrong", **through_proxy(forwarded)).status_code == 200
    assert log_in(client, "someone@example.com", "wrong", **through_proxy("192.0.2.99, 203.0.113.7")).status_code == 429


def test_the_origin_check_applies_to_https_forwarded_by_the_proxy(proxied_app):
    app = proxied_app()
    make_user(app, "ada@example.com")
    https = {"X-Forwarded-Proto": "https"}
    # The client used HTTPS: a form posted without Origin or Referer is refused, as on any HTTPS site.
    assert log_in(app.test_client(), "ada@example.com", **through_proxy("203.0.113.7", **https)).status_code == 400
    same_site = through_proxy("203.0.113.7", Origin="https://localhost", **https)
    assert log_in(app.test_client(), "ada@example.com", **same_site).status_code == 302
    other_site = through_proxy("203.0.113.7", Origin="https://evil.example", **https)
    assert log_in(app.test_client(), "ada@example.com", **other_site).status_code == 400


def test_without_hops_the_forwarded_headers_are_ignored(auth_app, db_session_for):
    app = auth_app(config={"AUTH_THROTTLE_ADDRESS_LIMIT": 3})
    db_session_for(app)
    make_user(app, "ada@example.com")
    client = app.test_client()
    https = {"X-Forwarded-Proto": "https"}
    # Plain HTTP as far as the app knows: no origin check, and every client is the connection's address.
    assert log_in(client, "ada@example.com", **through_proxy("203.0.113.7", **https)).status_code == 302
    for index in range(3):
        log_in(app.test_client(), f"nobody{index}@example.com", "wrong", **through_proxy(f"198.51.100.{index}"))
    assert log_in(app.test_client(), "ada@example.com", **through_proxy("192.0.2.1")).status_code == 429


# -- Links in mail --------------------------------------------------------------------------------------------


@pytest.fixture
def mail_app(auth_app):
    pytest.importorskip("erlen_mail", reason="erlen-mail is not installed: links are tested in the integration session")
    from erlen_mail.testing import DeliveredMail

    # Committed for real (each test has a database of its own): the worker reads the outbox on its own connection.
    def make(**config: t.Any):
        app = auth_app(["mail"], {"MAIL_DEFAULT_SENDER": "noreply@example.com", **config}, create_all=True)
        return app, DeliveredMail(app)  # auth queues its mail: reading this runs the worker

    return make


def links(outbox) -> list[str]:
    return [link for message in outbox for link in re.findall(r"https?://\S+", message.body)]


def post_as_a_browser(client, path: str, data: dict[str, str], *, form_from: dict[str, t.Any], **request: t.Any):
    """POST ``data`` to ``path`` with the CSRF token of the form page loaded with the options ``form_from``."""
    page = client.get(path, **form_from)
    assert page.status_code == 200, page.status_code
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    return client.post(path, data={**data, "csrf_token": token}, **request)


def test_a_reset_asked_for_on_another_port_is_refused_and_mails_nothing(mail_app):
    app, outbox = mail_app(TRUSTED_HOSTS=["notes.example.com"])
    make_user(app, "ada@example.com")
    client = app.test_client()
    trusted = {"base_url": "http://notes.example.com"}
    for poisoned in ("http://notes.example.com:666", "http://notes.example.com:8080"):
        answer = post_as_a_browser(
            client, "/auth/reset", {"email": "ada@example.com"}, form_from=trusted, base_url=poisoned
        )
        assert answer.status_code == 400
    assert list(outbox) == []
    post_as_a_browser(client, "/auth/reset", {"email": "ada@example.com"}, form_from=trusted, **trusted)
    [link] = links(outbox)
    assert link.startswith("http://notes.example.com/auth/reset/")


def test_a_registration_on_another_port_is_refused_and_mails_no_confirmation(mail_app):
    app, outbox = mail_app(TRUSTED_HOSTS=["notes.example.com:8443"], AUTH_EMAIL_CONFIRMATION=True)
    form = {"email": "ada@example.com", "password": "long enough pw", "confirm": "long enough pw"}
    client = app.test_client()
    trusted = {"base_url": "https://notes.example.com:8443"}
    for wrong_port in ("https://notes.example.com", "https://notes.example.com:666"):
        # Same-origin as far as the origin check goes: only the port makes the 400.
        same_origin = {"base_url": wrong_port, "headers": {"Origin": wrong_port}}
        assert post_as_a_browser(client, "/auth/register", form, form_from=trusted, **same_origin).status_code == 400
    assert list(outbox) == []
    with app.app_context():
        assert find_user("ada@example.com") is None
    good = {**trusted, "headers": {"Origin": "https://notes.example.com:8443"}}
    assert post_as_a_browser(client, "/auth/register", form, form_from=trusted, **good).status_code == 302
    [link] = links(outbox)
    assert link.startswith("https://notes.example.com:8443/auth/confirm/")


def test_links_asked_for_through_the_proxy_use_the_public_scheme_host_and_port(mail_app):
    app, outbox = mail_app(TRUSTED_PROXY_HOPS=1, TRUSTED_HOSTS=["notes.example.com"])
    make_user(app, "ada@example.com")
    client = app.test_client()
    public = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "notes.example.com",
        "Origin": "https://notes.example.com",
    }
    form_from = through_proxy("203.0.113.7", **public)
    # Each same-origin as far as the origin check goes: only the port makes the 400.
    origin = {"Origin": "https://notes.example.com:666"}
    for poisoned in ({"X-Forwarded-Host": "notes.example.com:666", **origin}, {"X-Forwarded-Port": "666", **origin}):
        request = through_proxy("203.0.113.7", **{**public, **poisoned})
        answer = post_as_a_browser(client, "/auth/reset", {"email": "ada@example.com"}, form_from=form_from, **request)
        assert answer.status_code == 400
    assert list(outbox) == []
    post_as_a_browser(client, "/auth/reset", {"email": "ada@example.com"}, form_from=form_from, **form_from)
    [link] = links(outbox)
    assert link.startswith("https://notes.example.com/auth/reset/")
    assert DEFAULT_PASSWORD not in link
