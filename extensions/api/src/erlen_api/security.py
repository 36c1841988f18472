"""Who is calling an endpoint and whether they may: bearer tokens, the session cookie, CSRF and permissions.

Before an endpoint's inputs are parsed:

1. **Authentication.** A request with ``Authorization: Bearer <token>`` is
   authenticated by the plugin implementing
   :func:`~erlen_api.hookspecs.erlen_api_authenticate_token` (erlen-auth's
   personal access tokens), or refused with a 401. Otherwise the session
   cookie's user is Flask-Login's ``current_user``, when erlen-auth is
   enabled; the ``api`` plugin works without it (every request is then
   anonymous, unless a token plugin says otherwise).
2. **CSRF.** A request with a state-changing method that carries the
   session cookie must carry a valid CSRF token of erlen-forms in a header
   (``X-CSRF-Token``), or gets a 403. Token-authenticated requests, and
   requests without the session cookie (which no other site can make act
   as anyone), are exempt: CSRF rides on the cookie's ambient authority.
3. **Authorization.** An endpoint that declares a permission (or
   ``login_required``) answers 401 with a ``WWW-Authenticate`` challenge to
   anonymous requests, and 403 to users without the permission (or to
   tokens without the scope).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from flask import Flask, Request, current_app, g, request

import erlen

from .problems import PROBLEM_TYPES, Problem

if t.TYPE_CHECKING:
    from .endpoint import Endpoint

#: The methods that never change state and are not checked for CSRF.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

#: The attribute of ``flask.g`` holding the request's :class:`Identity`.
_G_IDENTITY = "_erlen_api_identity"


@t.runtime_checkable
class ApiUser(t.Protocol):
    """What the API needs of a user: erlen-auth's users are such; a token plugin's users must be too."""

    @property
    def is_authenticated(self) -> bool:
        """Whether this is a real user rather than the anonymous one."""

    def can(self, permission: str) -> bool:
        """Whether the user has ``permission``.

        :param permission: a permission name, such as ``notes.edit``.
        """


class TokenRejected(Exception):
    """Raised by an ``erlen_api_authenticate_token`` implementation to refuse a token and say why.

    The request gets a 401 whose detail is the message (``The access token has expired.``); returning
    ``None`` gives the generic ``The access token is not valid.``

    :param message: why the token is refused, for the client.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class TokenIdentity:
    """What a bearer token stands for: the answer of ``erlen_api_authenticate_token``.

    :param user: the user the token acts for.
    :param scopes: the permissions the token is limited to; ``None`` for all of the user's.
    """

    user: ApiUser
    scopes: frozenset[str] | None = None


@dataclass(frozen=True)
class Identity:
    """Who made the current API request.

    :param user: the user, or ``None`` for an anonymous request.
    :param method: ``"token"``, ``"session"`` or ``None`` (anonymous).
    :param scopes: for a token, the permissions it is limited to (``None``: all of the user's).
    """

    user: ApiUser | None
    method: t.Literal["token", "session"] | None
    scopes: frozenset[str] | None = None

    def can(self, permission: str) -> bool:
        """Whether this request may use ``permission``: the user has it and, for a token, its scopes include it.

        :param permission: a permission name.
        """
        if self.user is None:
            return False
        if self.scopes is not None and permission not in self.scopes:
            return False
        return bool(self.user.can(permission))


#: The identity of every anonymous request.
_ANONYMOUS = Identity(None, None)


def current_identity() -> Identity:
    """Who made the current API request (set before the view runs).

    :raises RuntimeError: outside a request to an API endpoint.
    """
    identity = g.get(_G_IDENTITY)
    if identity is None:
        raise RuntimeError("current_identity() is only known inside a request to an erlen-api endpoint.")
    return t.cast(Identity, identity)


def _realm(app: Flask) -> str:
    """The realm of the challenges: ``API_TITLE``, quoted for a header.

    :param app: the current app.
    """
    return str(app.config.get("API_TITLE") or "api").replace("\\", "\\\\").replace('"', '\\"')


def challenges(app: Flask, endpoint: Endpoint, error: str | None = None) -> str:
    """The ``WWW-Authenticate`` header of a 401 from ``endpoint``.

    :param app: the current app.
    :param endpoint: the endpoint refusing the request.
    :param error: the RFC 6750 error code for a bearer token that was refused (``invalid_token``).
    """
    realm = _realm(app)
    found = []
    if endpoint.options.tokens:
        found.append(f'Bearer realm="{realm}"' + (f', error="{error}"' if error else ""))
    # No registered scheme names a session cookie; this one tells clients to log in through the site.
    found.append(f'Cookie realm="{realm}", cookie-name="{app.config.get("SESSION_COOKIE_NAME", "session")}"')
    return ", ".join(found)


def _unauthorized(app: Flask, endpoint: Endpoint, detail: str, error: str | None = None) -> Problem:
    """A 401 problem with the endpoint's ``WWW-Authenticate`` challenges.

    :param app: the current app.
    :param endpoint: the endpoint refusing the request.
    :param detail: what is wrong, for people.
    :param error: the RFC 6750 error code, for a refused bearer token.
    """
    return Problem(401, detail, headers={"WWW-Authenticate": challenges(app, endpoint, error)})


def _session_user(app: Flask) -> ApiUser | None:
    """The user the session cookie logs in (Flask-Login's ``current_user``); ``None``: anonymous, or no erlen-auth.

    :param app: the current app.
    """
    # Flask-Login's init_app sets login_manager on the app itself: read from its __dict__, an app without one
    # costs no AttributeError built and dropped (getattr with a default) on every request.
    if app.__dict__.get("login_manager") is None:
        return None
    from flask_login import current_user

    user = current_user._get_current_object()
    return t.cast(ApiUser, user) if user is not None and user.is_authenticated else None


def authenticate(endpoint: Endpoint, app: Flask | None = None, current: Request | None = None) -> Identity:
    """Find who makes the current request to ``endpoint``; check its CSRF token and the endpoint's permission.

    :param endpoint: the endpoint being called.
    :param app: the current app, when the caller has it at hand (saves looking it up again).
    :param current: the current request itself (not its proxy), when the caller has it at hand.
    :returns: the request's identity, also stored for :func:`current_identity`.
    :raises Problem: 401 (with ``WWW-Authenticate``) for a refused token or an anonymous request to an endpoint
        that needs a user; 403 for a missing or invalid CSRF token, or a user without the permission.
    """
    if app is None:
        app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    if current is None:
        current = t.cast(Request, request._get_current_object())  # type: ignore[attr-defined]
    # The environ's key rather than request.headers: the same value, without the headers' case-folding look-up.
    authorization = current.environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        token = credentials.strip()
        if not endpoint.options.tokens:
            raise _unauthorized(app, endpoint, "This endpoint does not accept access tokens; use the session.")
        if not token:
            raise _unauthorized(
                app,
                endpoint,
                "The Authorization header has no access token after Bearer: send 'Authorization: Bearer <token>'.",
                error="invalid_token",
            )
        try:
            found = erlen.plugins_of(app).hook.erlen_api_authenticate_token(app=app, token=token)
        except TokenRejected as exc:
            raise _unauthorized(app, endpoint, exc.message, error="invalid_token") from None
        if found is None:
            raise _unauthorized(app, endpoint, "The access token is not valid.", error="invalid_token")
        identity = Identity(found.user, "token", found.scopes)
    else:
        user = _session_user(app)
        # Identities are frozen: every anonymous request shares one rather than making its own.
        identity = _ANONYMOUS if user is None else Identity(user, "session")
        if current.method not in SAFE_METHODS and _has_session_cookie(app):
            _check_csrf(app)
    setattr(g._get_current_object(), _G_IDENTITY, identity)
    options = endpoint.options
    if options.needs_login and identity.user is None:
        raise _unauthorized(app, endpoint, _anonymous_detail(authorization, endpoint))
    if options.permission is not None and not identity.can(options.permission):
        if identity.method == "token" and identity.user is not None and identity.user.can(options.permission):
            detail = f"The access token's scopes do not include the permission {options.permission!r}."
        else:
            detail = f"You need the permission {options.permission!r}."
        raise Problem(403, detail)
    return identity


def _anonymous_detail(authorization: str, endpoint: Endpoint) -> str:
    """Why an anonymous request to an endpoint that needs a user is refused, naming an ``Authorization`` header the
    API could not read: the client sent credentials, and "log in" alone would not tell it what is wrong with them.

    Such a header is only refused where a user is needed: elsewhere it may be meant for another hop (a proxy's
    ``Basic`` login in front of a staging site, which browsers then send with every request).

    :param authorization: the request's ``Authorization`` header, ``""`` when absent.
    :param endpoint: the endpoint refusing the request.
    """
    sent = authorization.strip()
    if not sent:
        return "Authentication is required: log in, or send an access token."
    scheme = sent.split(None, 1)[0]
    expected = "send 'Authorization: Bearer <token>' (a space after Bearer), or log in"
    if not endpoint.options.tokens:
        return "This endpoint does not accept access tokens (the Authorization header); use the session: log in."
    if scheme.lower() == "bearer":  # separated by something else than one space (a tab): no scheme RFC 9110 reads
        return f"The Authorization header is malformed: {expected}."
    shown = scheme if len(scheme) <= 20 else scheme[:17] + "..."
    return f"The Authorization header's scheme {shown!r} is not accepted: {expected}."


def _has_session_cookie(app: Flask) -> bool:
    """Whether the request carries the app's session cookie, the ambient authority CSRF abuses.

    :param app: the current app.
    """
    return app.config.get("SESSION_COOKIE_NAME", "session") in request.cookies


def _check_csrf(app: Flask) -> None:
    """Refuse a state-changing request with the session cookie and no valid CSRF token in its header.

    Uses erlen-forms' tokens when the ``forms`` plugin is enabled with ``FORMS_CSRF_ENABLED``; without it
    there is no token to check.
    """
    if "forms" not in erlen.plugins_of(app) or not app.config.get("FORMS_CSRF_ENABLED", True):
        return
    from erlen_forms import CSRFError, check_csrf

    headers = app.config.get("FORMS_CSRF_HEADERS") or ["X-CSRF-Token"]
    try:
        check_csrf(form_field=False)
    except CSRFError as exc:
        raise Problem(
            403,
            f"{exc.message} Requests with the session cookie send the token in the header {headers[0]}.",
            type=PROBLEM_TYPES["csrf"],
            title="CSRF check failed",
            reason=exc.code,
        ) from None
