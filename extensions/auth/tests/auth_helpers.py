from __future__ import annotations

import typing as t

from flask.testing import FlaskClient

from erlen_auth.testing import DEFAULT_PASSWORD
from erlen_forms.testing import csrf_token_for

if t.TYPE_CHECKING:
    from soft_authenticator import SoftAuthenticator


def post_form(client: FlaskClient, path: str, data: dict[str, t.Any] | None = None, **kwargs: t.Any) -> t.Any:
    """POST a form with a valid CSRF token, as a browser that loaded the page would."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token_for(client)}, **kwargs)


def log_in(
    client: FlaskClient, email: str, password: str = DEFAULT_PASSWORD, *, remember: bool = False, **kwargs: t.Any
) -> t.Any:
    data: dict[str, t.Any] = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    return post_form(client, "/auth/login", data, **kwargs)


def set_cookies(response: t.Any) -> dict[str, str]:
    """The Set-Cookie headers of a response, by cookie name."""
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def is_logged_in(client: FlaskClient) -> bool:
    response = client.get("/auth/password")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def post_json(client: FlaskClient, path: str, body: t.Any = None, **kwargs: t.Any) -> t.Any:
    """POST ``body`` as JSON with the CSRF header, as the passkey script does."""
    headers = {"X-CSRF-Token": csrf_token_for(client), "Accept": "application/json"}
    return client.post(path, json=body if body is not None else {}, headers=headers, **kwargs)


def add_passkey(client: FlaskClient, authenticator: SoftAuthenticator, name: str = "Phone", **forge: t.Any) -> t.Any:
    """Register a passkey of ``authenticator`` for the user ``client`` is logged in as, as the passkey page does.

    :param name: the passkey's name.
    :param forge: parts of the attestation to forge (see :meth:`SoftAuthenticator.create`).
    """
    options = post_json(client, "/auth/passkeys/register/options", {"name": name})
    assert options.status_code == 200, options.text
    return post_json(client, "/auth/passkeys/register", {"credential": authenticator.create(options.json, **forge)})
