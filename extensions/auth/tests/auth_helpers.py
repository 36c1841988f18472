from __future__ import annotations

import typing as t

from flask.testing import FlaskClient

from erlen_auth.testing import DEFAULT_PASSWORD
from erlen_forms.testing import csrf_token_for


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
