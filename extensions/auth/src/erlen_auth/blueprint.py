"""The ``auth`` blueprint: its rules, registered when the app is created, without importing the views' modules.

The views' modules import SQLAlchemy and WTForms; this one imports neither, so
``erlen --help``, which creates the app with its set-up deferred (see
:func:`erlen.defer_setup`), registers every rule without them. The pages every
worker serves (log-in, registration, ...) get their functions at once
(:func:`erlen.deferred_view`: a stand-in only in an app the ``erlen`` command
created, until its set-up finishes); the others are :func:`erlen.lazy_view`
stand-ins everywhere (:data:`LAZY_RULES`).
"""

from __future__ import annotations

import typing as t

from flask import Blueprint, Flask

import erlen

from . import security_page
from .state import state_of

#: The rules whose views are imported on their first call (see :func:`erlen.lazy_view`): the pages of sessions,
#: access tokens, passkeys, the user's data and TOTP, with their modules (some 100 KiB, with erlen_auth.data_rights
#: another 100), which a worker answering only the log-in page and the site's own pages never runs.
#: Each is path, endpoint, module, function and methods.
LAZY_RULES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("/sessions", "sessions", "session_views", "sessions_page", ("GET",)),
    ("/sessions/<int:session_id>/end", "end_session", "session_views", "end_session", ("POST",)),
    ("/sessions/end-others", "end_other_sessions", "session_views", "end_other_sessions", ("POST",)),
    ("/tokens/new", "new_access_token", "access_token_views", "new_access_token", ("GET", "POST")),
    ("/tokens/<int:token_id>/revoke", "revoke_access_token", "access_token_views", "revoke_access_token", ("POST",)),
    ("/passkeys/new", "passkey_new", "passkey_views", "new_passkey", ("GET",)),
    ("/passkeys/register/options", "passkey_register_options", "passkey_views", "register_options", ("POST",)),
    ("/passkeys/register", "passkey_register", "passkey_views", "register_passkey", ("POST",)),
    ("/passkeys/login/options", "passkey_login_options", "passkey_views", "login_options", ("POST",)),
    ("/passkeys/login", "passkey_login", "passkey_views", "login_with_passkey", ("POST",)),
    ("/passkeys/reauth/options", "passkey_reauth_options", "passkey_views", "reauth_options", ("POST",)),
    ("/passkeys/reauth", "passkey_reauth", "passkey_views", "reauth_with_passkey", ("POST",)),
    (
        "/passkeys/second-factor/options",
        "passkey_second_factor_options",
        "passkey_views",
        "second_factor_options",
        ("POST",),
    ),
    ("/passkeys/second-factor", "passkey_second_factor", "passkey_views", "second_factor_with_passkey", ("POST",)),
    ("/passkeys/<int:passkey_id>/rename", "passkey_rename", "passkey_views", "rename_passkey", ("GET", "POST")),
    ("/passkeys/<int:passkey_id>/remove", "passkey_remove", "passkey_views", "remove_passkey", ("GET", "POST")),
    ("/data/export", "export_data", "data_rights_views", "export_data", ("POST",)),
    ("/delete", "delete_account", "data_rights_views", "delete_account", ("GET", "POST")),
    ("/delete/cancel/<token>", "cancel_deletion", "data_rights_views", "cancel_deletion", ("GET", "POST")),
    ("/two-factor/setup", "two_factor_setup", "totp_views", "setup", ("GET", "POST")),
    ("/two-factor/disable", "two_factor_disable", "totp_views", "disable", ("GET", "POST")),
    ("/two-factor/recovery-codes", "two_factor_recovery_codes", "totp_views", "recovery_codes", ("GET", "POST")),
)


def make_blueprint(app: Flask) -> Blueprint:
    """The ``auth`` blueprint for ``app``: reset and confirmation views only when mail is enabled."""
    state = state_of(app)
    bp = Blueprint("auth", __name__)

    def add(rule: str, endpoint: str, target: str, methods: tuple[str, ...] = ("GET", "POST")) -> None:
        bp.add_url_rule(rule, endpoint, erlen.deferred_view(app, f"{__package__}.{target}"), methods=list(methods))

    def lazy(rule: str, endpoint: str, target: str, methods: tuple[str, ...] = ("GET", "POST")) -> None:
        bp.add_url_rule(rule, endpoint, erlen.lazy_view(f"{__package__}.{target}"), methods=list(methods))

    add("/login", "login", "views:login")
    # GET asks (a page with the button), only POST logs out: see erlen_auth.views.logout.
    add("/logout", "logout", "views:logout")
    add("/password", "change_password", "views:change_password")
    add("/logout-everywhere", "logout_everywhere", "views:logout_everywhere")
    for rule, endpoint, module, function, methods in LAZY_RULES:
        lazy(rule, endpoint, f"{module}:{function}", methods)
    if app.config["AUTH_REGISTRATION_ENABLED"]:
        add("/register", "register", "views:register")
    if state.reset_enabled:
        add("/reset", "reset_request", "views:reset_request")
        add("/reset/<token>", "reset_password", "views:reset_password")
    if state.confirmation_enabled:
        add("/confirm/<token>", "confirm_email", "views:confirm_email")
        add("/confirm", "resend_confirmation", "views:resend_confirmation")
    add("/reauthenticate", "reauthenticate", "reauth:reauthenticate")
    if app.config["AUTH_OIDC_PROVIDERS"]:
        # The provider views (some 100 KiB of code) are imported only by an app that has providers: an app
        # without any registers none of their routes, so its workers need not carry them. Their rules need the
        # providers' state, which the plugin's deferred set-up makes: an app with providers finishes it here.
        erlen.finish_setup(app)
        from . import oidc_views

        oidc_views.register(bp, app)
    bp.add_url_rule("/security", "security", security_page.security_page)
    # The second sign-in step; the TOTP pages' rules are in LAZY_RULES: erlen_auth.totp_views (and
    # erlen_auth.totp) are imported by the first request that needs them, not by every worker.
    # erlen_auth.two_factor and erlen_auth.email_change (some 40 KiB of code) likewise, by their first request:
    # their views carry no mark read before the call.
    lazy("/two-factor", "two_factor", "two_factor:second_step")
    security_page.add(app, security_page.TWO_FACTOR_SECTION)
    security_page.add(app, security_page.DATA_SECTION)
    if state.mail:
        lazy("/email", "change_email", "email_change:change_email")
        lazy("/email/confirm/<token>", "confirm_email_change", "email_change:confirm_email_change")
        lazy("/email/undo/<token>", "undo_email_change", "email_change:undo_email_change")
    bp.after_request(_private)
    return bp


def _private(response: t.Any) -> t.Any:
    """Keep account pages out of caches and frames, and links with tokens out of ``Referer`` headers."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    # No page of any site, this one included, may frame the log-in and password pages (clickjacking).
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response
