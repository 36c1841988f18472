"""The auth plugin's state on one app, kept in ``app.extensions["auth"]``."""

from __future__ import annotations

import time
import typing as t
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, g

import erlen

if t.TYPE_CHECKING:
    from flask_login import LoginManager

    from .models import User
    from .passwords import Passwords
    from .permissions import Permission
    from .throttling import LoginThrottle


@dataclass(frozen=True)
class SecuritySection:
    """A section of the account's security page (``/auth/security``).

    :param template: the template rendered in place of the section; it sees ``user`` (the current user)
        and ``csrf_input`` as every page does, and extends nothing.
    :param order: where it goes: sections are shown by ascending order (the built-in ones use 10 to 90
        in steps of 10: email 10, password 20, two-factor 30, passkeys 40, linked providers 50,
        sessions 60, access tokens 70, your data 90).
    :param title: the section's heading, also used in the page's table of contents.
    """

    template: str
    order: int
    title: str


@dataclass(frozen=True)
class AccountLink:
    """A link of the account menu, added by a plugin (``erlen_auth_account_links``), after erlen-auth's own.

    :param label: the link's text.
    :param endpoint: the endpoint it leads to (``url_for(endpoint)``), such as ``"admin.index"``.
    :param permission: a declared permission: the link is shown to superusers and to users one of whose roles
        grants it, decided without a query of its own (see :mod:`erlen_auth.account_links`); ``None`` shows it
        to every signed-in user.
    """

    label: str
    endpoint: str
    permission: str | None = None


@dataclass(frozen=True)
class SecondFactor:
    """A kind of second factor a user can have (TOTP, passkeys), offered on the two-factor page ``/auth/two-factor``.

    A user who has at least one (``enrolled(user)`` is true) is asked for one of
    them after the password (see :mod:`erlen_auth.two_factor`).

    :param name: the method's name, such as ``"totp"`` or ``"passkey"``; passed to
        :func:`erlen_auth.two_factor.complete_second_factor`.
    :param enrolled: whether a user has this factor, ready to use.
    :param template: a template included on the two-factor page for users who have it (it extends nothing;
        it sees ``pending_user`` and ``csrf_input``), or ``None`` when the page's own form serves it.
    :param standalone: whether it counts as the user's second factor on its own, so that another kind may be
        turned off while it stays; a kind usable only beside another (passkeys as a second step are offered
        only to users who also have TOTP, since they come with no recovery codes) is not.
    """

    name: str
    enrolled: Callable[[User], bool]
    template: str | None = None
    standalone: bool = True


#: The key of ``app.extensions`` under which :class:`AuthState` lives.
EXTENSION_KEY = "auth"


@dataclass
class AuthState:
    """What the auth plugin keeps per app.

    :param login_manager: Flask-Login's manager of the app.
    :param passwords: the app's password hasher.
    :param throttle: the log-in throttle.
    :param permissions: every declared permission, by name.
    :param mail: whether mail is enabled, so reset and confirmation are on.
    :param config: the app's configuration.
    """

    login_manager: LoginManager
    passwords: Passwords
    throttle: LoginThrottle
    permissions: dict[str, Permission] = field(default_factory=dict)
    mail: bool = False
    config: t.Mapping[str, t.Any] = field(default_factory=dict)
    #: Cookie keys Erlen sets from the debug flag (those the app did not configure).
    managed_cookie_keys: tuple[str, ...] = ()
    cookies_settled: bool = False
    #: The sections of the security page, in order: the plugin's features' and other plugins'
    #: (``erlen_auth_security_sections``).
    security_sections: list[SecuritySection] = field(default_factory=list)
    #: The links that plugins add to the account menu, in the plugins' order, each with the name of the plugin that
    #: added it (``erlen_auth_account_links``).
    account_links: dict[AccountLink, str] = field(default_factory=dict)
    #: Whether every account link's endpoint was found (once, at the first menu: the app's own routes may be added
    #: after its creation); endpoints are never removed, so it stays true.
    account_link_endpoints_found: bool = False
    #: Templates included under the log-in form: other ways in (passkeys, OpenID Connect providers).
    login_parts: list[str] = field(default_factory=list)
    #: Templates included under the re-authentication form: other ways to prove who one is (passkeys).
    reauth_parts: list[str] = field(default_factory=list)
    #: The kinds of second factor, in the order the two-factor page offers them (TOTP first; passkeys add theirs).
    second_factors: list[SecondFactor] = field(default_factory=list)
    #: The time source of second factors and pending sign-ins, in seconds since the epoch (tests pass a fake one).
    clock: Callable[[], float] = time.time

    @property
    def reset_enabled(self) -> bool:
        """Whether password reset by email is on: mail is enabled and ``AUTH_PASSWORD_RESET`` is true."""
        return self.mail and bool(self.config.get("AUTH_PASSWORD_RESET", True))

    @property
    def confirmation_enabled(self) -> bool:
        """Whether email confirmation is on: mail is enabled and ``AUTH_EMAIL_CONFIRMATION`` is true."""
        return self.mail and bool(self.config.get("AUTH_EMAIL_CONFIRMATION", False))


def state_of(app: Flask | None = None) -> AuthState:
    """The :class:`AuthState` of ``app``, or of the current app.

    :raises erlen.PluginNotEnabledError: the auth plugin is not enabled on the app.
    """
    return t.cast(AuthState, erlen.extension_state(EXTENSION_KEY, app))


#: Where the request keeps the user whose scopes an access token restricted, to lift the restriction at teardown.
TOKEN_USER_KEY = "_erlen_auth_token_user"


def lift_token_restriction(exc: BaseException | None = None) -> None:
    """Lift the access token's restriction of the request's user (a ``teardown_request`` function).

    Here, not in :mod:`erlen_auth.access_tokens`: every app registers it when created, so it keeps its place
    among the other plugins' teardowns (also in an app the ``erlen`` command made), without importing that
    module, which the first request using a token imports.

    :param exc: the exception that ended the request, if any (unused).
    """
    user = g.pop(TOKEN_USER_KEY, None)
    if user is not None:
        user.restrict_to_token_scopes(None)
