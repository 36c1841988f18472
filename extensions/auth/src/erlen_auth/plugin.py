"""The ``auth`` plugin: accounts and access control, on Flask-Login."""

from __future__ import annotations

import datetime as dt
import typing as t
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

import click
from flask import Flask, current_app
from flask.globals import request_ctx
from flask_login import LoginManager, current_user

import erlen

from . import hookspecs
from .state import EXTENSION_KEY, AccountLink, AuthState, state_of

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from flask.cli import AppGroup

    from erlen.checks import CheckMessage

PLUGIN = erlen.Plugin(
    name="auth",
    requires=["db", "forms"],
    integrates_with=["mail", "migrate"],
    description="Accounts and access control: log-in, registration, reset, roles and permissions",
    title="Accounts",
)

#: Cookie settings the plugin makes safe unless the app configures them itself.
COOKIE_KEYS = (
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_SECURE",
    "REMEMBER_COOKIE_HTTPONLY",
    "REMEMBER_COOKIE_SAMESITE",
    "REMEMBER_COOKIE_SECURE",
)


#: Flask-Login's session protection modes; any other value of ``SESSION_PROTECTION`` turns it off.
_PROTECTION_MODES = ("basic", "strong")


class _LoginManager(LoginManager):  # type: ignore[misc]  # Flask-Login is untyped
    """Flask-Login's manager, refusing remember-me cookies it would fail on, its session protection off by default.

    Flask-Login's default protection ("basic") only marks a session not fresh when the client's address or
    user agent changes; nothing of erlen-auth reads freshness (log-in sessions are rows that log-out and
    revocation end, and sensitive actions ask for the password again, see :mod:`erlen_auth.reauth`). Yet it
    costs every logged-in request a SHA-512 of the address and user agent, and every session cookie the
    128 characters of that digest. ``SESSION_PROTECTION = "basic"`` or ``"strong"`` in the config turns it on,
    as in Flask-Login.
    """

    def __init__(self) -> None:
        super().__init__()
        self.session_protection = None
        # Set by Flask-Login's __init__ (untyped): its SHA-512 of the client's address and user agent.
        self._flask_login_identifier: t.Callable[[], str] = vars(self)["_session_identifier_generator"]
        self._session_identifier_generator = self._identifier_if_protected

    def _protected(self) -> bool:
        return current_app.config.get("SESSION_PROTECTION", self.session_protection) in _PROTECTION_MODES

    def _identifier_if_protected(self) -> str:
        # login_user stores the identifier in the session whatever the mode: unprotected, an empty one.
        return self._flask_login_identifier() if self._protected() else ""

    def _session_protection_failed(self) -> bool:
        # Flask-Login computes the identifier before it looks at the mode.
        if not self._protected():
            return False
        return bool(super()._session_protection_failed())

    def _load_user_from_remember_cookie(self, cookie: str) -> t.Any:
        # Flask-Login compares the cookie's digest with hmac.compare_digest, which raises
        # TypeError on non-ASCII text: a client sending such a cookie would get a 500.
        if not cookie.isascii():
            return None
        return super()._load_user_from_remember_cookie(cookie)

    def _update_remember_cookie(self, response: t.Any) -> t.Any:
        # Flask-Login's after-request function reads the session on every response to find "_remember", which
        # marks it read (Flask >= 3.1.3 tracks that in the request context): every page, a public one that
        # never used the session included, then got "Vary: Cookie" and the work of saving the session.
        # Only login_user(remember=True) or logout_user in this request leave "_remember" there, or the
        # refresh setting asks for the cookie on every response: look without marking the session read.
        stored = getattr(request_ctx, "_session", None)
        if (
            stored is not None
            and "_remember" not in stored
            and not current_app.config.get("REMEMBER_COOKIE_REFRESH_EACH_REQUEST")
        ):
            return response
        return super()._update_remember_cookie(response)


@erlen.hookimpl
def erlen_hookspecs() -> Iterable[ModuleType]:
    return [hookspecs]


@erlen.hookimpl
def erlen_settings() -> Iterable[erlen.Setting]:
    # From feature_settings, not the features' modules: they import SQLAlchemy and WTForms, which
    # erlen --help does not (see erlen.defer_setup).
    from . import feature_settings as features
    from . import notices, password_policy

    S = erlen.Setting
    return [
        *features.REAUTH_SETTINGS,
        *notices.SETTINGS,
        *features.ACCESS_TOKEN_SETTINGS,
        *features.TWO_FACTOR_SETTINGS,
        *features.OIDC_SETTINGS,
        *features.PASSKEYS_SETTINGS,
        *features.DATA_RIGHTS_SETTINGS,
        *password_policy.SETTINGS,
        *features.EMAIL_CHANGE_SETTINGS,
        S("URL_PREFIX", str, default="/auth", help="Where the auth views are mounted."),
        S("REGISTRATION_ENABLED", bool, default=True, help="Let visitors create accounts at /auth/register."),
        S("LOGIN_REDIRECT", str, default="/", help="Where to go after logging in when there is no safe next."),
        S(
            "LOGOUT_REDIRECT",
            str,
            default="/",
            help="Where to go after logging out, and where the log-out page sends a visitor not logged in.",
        ),
        S(
            "REMEMBER_DAYS",
            int,
            default=30,
            validate=erlen.at_least(1),
            help="Days a remember-me cookie lasts; a log-in session unused for as long ends.",
        ),
        S(
            "LAST_SEEN_INTERVAL",
            int,
            default=300,
            validate=erlen.at_least(0),
            help="Seconds between two writes of a log-in session's last use (0: on every request).",
        ),
        S("PASSWORD_MIN_LENGTH", int, default=10, validate=erlen.at_least(1), help="Shortest new password accepted."),
        S("PASSWORD_MAX_LENGTH", int, default=1024, validate=erlen.at_least(8), help="Longest new password accepted."),
        S("ARGON2_TIME_COST", int, default=3, validate=erlen.at_least(1), help="argon2id iterations."),
        S("ARGON2_MEMORY_COST", int, default=65536, validate=erlen.at_least(8), help="argon2id memory, in KiB."),
        S("ARGON2_PARALLELISM", int, default=4, validate=erlen.at_least(1), help="argon2id lanes."),
        S(
            "PASSWORD_RESET",
            bool,
            default=True,
            help="Offer password reset by email. Needs the mail plugin: without it reset is off.",
        ),
        S("RESET_MAX_AGE", int, default=3600, validate=erlen.at_least(60), help="Seconds a reset link stays valid."),
        S(
            "EMAIL_CONFIRMATION",
            bool,
            default=False,
            help="Email new users a link to confirm their address. Needs the mail plugin.",
        ),
        S(
            "REQUIRE_CONFIRMED_EMAIL",
            bool,
            default=False,
            help="Refuse log-ins until the address is confirmed (with AUTH_EMAIL_CONFIRMATION).",
        ),
        S(
            "CONFIRM_MAX_AGE",
            int,
            default=3 * 86400,
            validate=erlen.at_least(60),
            help="Seconds a confirmation link stays valid.",
        ),
        S(
            "THROTTLE_ACCOUNT_LIMIT",
            int,
            default=5,
            validate=erlen.at_least(0),
            help="Failed log-ins to one account in a window before it is throttled (0: no limit).",
        ),
        S(
            "THROTTLE_ADDRESS_LIMIT",
            int,
            default=20,
            validate=erlen.at_least(0),
            help="Failed log-ins from one client address in a window before it is throttled (0: no limit).",
        ),
        S(
            "THROTTLE_MAIL_LIMIT",
            int,
            default=3,
            validate=erlen.at_least(0),
            help="Reset or confirmation emails one address may be sent in a window (0: no limit).",
        ),
        S(
            "THROTTLE_WINDOW",
            int,
            default=900,
            validate=erlen.at_least(1),
            help="Seconds failed log-ins are counted for.",
        ),
        S(
            "THROTTLE_REDIS_URL",
            str | None,
            default=None,
            secret=True,
            help="A redis:// URL to count failed log-ins in, shared by every process and host; "
            "by default they are counted in each process's memory. While Redis cannot be reached, each "
            "process counts in its own memory and logs it once.",
        ),
        S(
            "THROTTLE_REDIS_CONNECT_TIMEOUT",
            float,
            default=0.25,
            validate=erlen.greater_than(0),
            help="Seconds to wait for a connection to the throttle's Redis before counting in memory.",
        ),
        S(
            "THROTTLE_REDIS_READ_TIMEOUT",
            float,
            default=0.25,
            validate=erlen.greater_than(0),
            help="Seconds to wait for the throttle's Redis to answer before counting in memory: "
            "what a hung Redis adds to a log-in at most.",
        ),
        S(
            "THROTTLE_REDIS_RETRY_INTERVAL",
            float,
            default=5.0,
            validate=erlen.at_least(0),
            help="Seconds between tries of the throttle's Redis while it cannot be reached (0: try on every log-in).",
        ),
        S(
            "PERMISSIONS",
            dict[str, str],
            default={},
            help="The app's own permissions: names such as 'app.export' mapped to descriptions.",
        ),
    ]


def _make_store(app: Flask) -> t.Any:
    from .throttling import MemoryStore

    config = app.config
    url = config["AUTH_THROTTLE_REDIS_URL"]
    if not url:
        return MemoryStore()
    from .throttling_redis import RedisStore

    return RedisStore(
        url,
        connect_timeout=config["AUTH_THROTTLE_REDIS_CONNECT_TIMEOUT"],
        read_timeout=config["AUTH_THROTTLE_REDIS_READ_TIMEOUT"],
        retry_interval=config["AUTH_THROTTLE_REDIS_RETRY_INTERVAL"],
    )


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    from . import security_page
    from .anonymous import AnonymousUser
    from .passwords import Passwords
    from .throttling import LoginThrottle

    manager = _LoginManager()
    # Flask-Login's own context processor loads the user for every template, error pages included;
    # ours hands templates the lazy proxy, loaded only by a template that uses it.
    manager.init_app(app, add_context_processor=False)
    app.context_processor(_current_user_context)
    manager.anonymous_user = AnonymousUser
    manager.login_view = "auth.login"
    config = app.config
    throttle = LoginThrottle(
        _make_store(app),
        account_limit=config["AUTH_THROTTLE_ACCOUNT_LIMIT"],
        address_limit=config["AUTH_THROTTLE_ADDRESS_LIMIT"],
        window=config["AUTH_THROTTLE_WINDOW"],
        mail_limit=config["AUTH_THROTTLE_MAIL_LIMIT"],
    )
    state = AuthState(
        login_manager=manager,
        passwords=Passwords.from_config(app),
        throttle=throttle,
        mail="mail" in erlen.plugins_of(app),
        config=config,
    )
    app.extensions[EXTENSION_KEY] = state
    security_page.add(app, *security_page.collect(app))
    config.setdefault("REMEMBER_COOKIE_DURATION", dt.timedelta(days=config["AUTH_REMEMBER_DAYS"]))
    state.managed_cookie_keys = tuple(key for key in COOKIE_KEYS if not _configured(app, key))
    _settle_cookies(app, state)
    _unsettled.add(app)
    # Request hooks here, not in the deferred step: an app the erlen command made (which `erlen run` serves)
    # has them in a served app's order, before those of later plugins and of the app's factory.
    from .state import lift_token_restriction

    app.teardown_request(lift_token_restriction)
    if config["AUTH_TWO_FACTOR_REQUIRED"] or config["AUTH_TWO_FACTOR_REQUIRED_PERMISSIONS"]:
        app.before_request(erlen.lazy_view(f"{__package__}.two_factor:enforce_second_factor"))
    # The user loader, the permissions and the features need the models, the database and the admin's views:
    # at once, or while the erlen command only lists commands, when its set-up finishes (erlen.defer_setup).
    erlen.defer_setup(app, _set_up_users)


def _set_up_users(app: Flask) -> None:
    """The user loader, the permissions and the features of the plugin: the part of its set-up that
    imports the models (and SQLAlchemy), run by :func:`erlen.defer_setup`.

    :param app: the app, whose :class:`AuthState` is made.
    :raises erlen.ConfigError: a setting names a permission nobody declares, or settings disagree.
    """
    from . import access_tokens, account_links, passkeys, permissions, sessions
    from .views import unauthorized

    state = state_of(app)
    manager = state.login_manager
    # The permissions, then the account links requiring them, first: the user loader reads whether a role grants
    # each link's permission with the user.
    state.permissions = dict(sorted(permissions.collect(app).items()))
    state.account_links = account_links.collect(app)
    manager.user_loader(_outage_safe(sessions.user_loader(app)))
    manager.unauthorized_handler(unauthorized)
    access_tokens.init(app)
    _set_up_two_factor(app)
    if app.config["AUTH_OIDC_PROVIDERS"]:
        # Without providers the app registers no OIDC route, button nor section (see blueprint.py): its workers
        # never run erlen_auth.oidc, so they do not import it.
        from . import oidc

        oidc.init(app)
    passkeys.init(app)
    _set_up_email_change(app)


def _set_up_two_factor(app: Flask) -> None:
    """Register TOTP as a kind of second factor and check the settings, without importing the two-factor modules.

    :mod:`erlen_auth.two_factor`, :mod:`erlen_auth.totp` and :mod:`erlen_auth.totp_views` are imported by the
    first request that needs them (the enforcement's hook is registered by :func:`erlen_init_app`).

    :param app: the app, whose permissions are collected.
    :raises erlen.ConfigError: ``AUTH_TWO_FACTOR_REQUIRED_PERMISSIONS`` names a permission nobody declares.
    """
    from .state import SecondFactor

    state = state_of(app)
    state.second_factors.insert(0, SecondFactor("totp", erlen.lazy_view(f"{__package__}.totp:is_enrolled"), None))
    unknown = [name for name in app.config["AUTH_TWO_FACTOR_REQUIRED_PERMISSIONS"] if name not in state.permissions]
    if unknown:
        raise erlen.ConfigError(
            f"AUTH_TWO_FACTOR_REQUIRED_PERMISSIONS names {', '.join(map(repr, unknown))}, which no enabled plugin "
            "declares. Fix the name or enable the plugin that declares it (`erlen permissions` lists them)."
        )
    # The security page's status, from erlen_auth.totp_views, imported by the first page that shows it.
    app.add_template_global(erlen.lazy_view(f"{__package__}.totp_views:two_factor_status"), "two_factor_status")


def _set_up_email_change(app: Flask) -> None:
    """Add the e-mail section of the security page, and its template global, without importing
    :mod:`erlen_auth.email_change` (imported by the first page that uses it).

    :param app: the app.
    """
    from . import security_page
    from .state import SecuritySection

    security_page.add(app, SecuritySection("auth/security/email.html", 10, "Email address"))
    app.add_template_global(erlen.lazy_view(f"{__package__}.email_change:email_status"), "email_status")


#: Apps whose cookie flags are settled again on their first request; empty once each has served one,
#: so the before-request hook then costs one truth test.
_unsettled: weakref.WeakSet[Flask] = weakref.WeakSet()


def _configured(app: Flask, key: str) -> bool:
    sources = erlen.plugins_of(app).config_sources
    if sources.get(key, "") != "":
        return True
    if key.startswith("SESSION_"):
        return key in app.config and app.config[key] != Flask.default_config.get(key)
    return key in app.config


def _settle_cookies(app: Flask, state: AuthState) -> None:
    safe = {"HTTPONLY": True, "SAMESITE": "Lax", "SECURE": not app.debug}
    for key in state.managed_cookie_keys:
        app.config[key] = safe[key.rsplit("_", 1)[1]]


def _current_user_context() -> dict[str, t.Any]:
    """``current_user`` in templates, as Flask-Login's lazy proxy: a page that does not show the user loads nobody."""
    # Imported with the module, not here: an import statement in a function costs every rendered page its
    # trip through the import machinery.
    return {"current_user": current_user}


def _outage_safe(load_user: t.Callable[[str], t.Any]) -> t.Callable[[str], t.Any]:
    """The user loader, treating the user as logged out on an error page while the database is unavailable.

    The 503 page of a logged-in user would otherwise load the user again from
    the database that just failed, and turn into a 500.
    """
    from erlen_db import unless_unavailable

    return unless_unavailable(lambda user_id: None)(load_user)


@erlen.hookimpl
def erlen_before_request() -> None:
    # `erlen run --debug` turns debug on after the app is made: decide Secure on the first request.
    if not _unsettled:
        return
    from flask import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app in _unsettled:
        _unsettled.discard(app)
        state = state_of(app)
        state.cookies_settled = True
        _settle_cookies(app, state)


@erlen.hookimpl
def erlen_app_ready(app: Flask) -> None:
    from .permissions import check_views

    # After the permissions are collected and the real views are in place (both deferred by the erlen command).
    erlen.defer_setup(app, check_views)


@erlen.hookimpl
def erlen_db_models() -> Iterable[type[t.Any]]:
    from . import access_tokens, account_models
    from .data_rights_models import MODELS as DATA_RIGHTS_MODELS
    from .models import MODELS
    from .oidc_models import MODELS as OIDC_MODELS
    from .passkey_models import MODELS as PASSKEY_MODELS
    from .totp_models import MODELS as TOTP_MODELS

    return [
        *MODELS,
        *access_tokens.MODELS,
        *TOTP_MODELS,
        *OIDC_MODELS,
        *PASSKEY_MODELS,
        *DATA_RIGHTS_MODELS,
        *account_models.MODELS,
    ]


@erlen.hookimpl(optionalhook=True)
def erlen_migrate_locations() -> str:
    return "migrations"


@erlen.hookimpl
def erlen_auth_permissions() -> Mapping[str, str]:
    return {
        "auth.manage_users": "Create, change and deactivate accounts",
        "auth.manage_roles": "Create roles and grant or revoke their permissions",
    }


@erlen.hookimpl(optionalhook=True)
def erlen_admin_views(app: Flask) -> Iterable[t.Any]:
    """Users and roles in the admin, when the ``admin`` plugin is enabled (see :mod:`erlen_auth.admin_views`).

    Optional: without erlen-admin the hook is never called, and the module importing it is never imported.
    """
    from .admin_views import admin_views

    return admin_views(app)


@erlen.hookimpl
def erlen_auth_user_export(user: t.Any) -> Mapping[str, t.Any]:
    from .data_rights import own_export

    return own_export(user)


@erlen.hookimpl
def erlen_auth_user_delete(user: t.Any) -> None:
    from .data_rights import own_delete

    own_delete(user)


@erlen.hookimpl
def erlen_auth_logged_in(user: t.Any, remember: bool) -> None:
    from .data_rights import cancel_on_sign_in

    cancel_on_sign_in(user)  # signing in within the grace period takes a deletion back


@erlen.hookimpl
def erlen_blueprints(app: Flask) -> Iterable[t.Any]:
    from .blueprint import make_blueprint

    return [(make_blueprint(app), {"url_prefix": app.config["AUTH_URL_PREFIX"].rstrip("/") or None})]


@erlen.hookimpl
def erlen_template_folders() -> Iterable[str]:
    return [str(Path(__file__).parent / "templates")]


@erlen.hookimpl
def erlen_static_folder() -> str:
    return str(Path(__file__).parent / "static")


@erlen.hookimpl
def erlen_template_globals() -> Mapping[str, t.Any]:
    from .passwords import is_usable
    from .redirects import is_safe_redirect

    def has_password(user: t.Any) -> bool:
        """Whether ``user`` has a password (an account made through a provider has none until it sets one)."""
        return is_usable(getattr(user, "password_hash", "") or "")

    def account_links(user: t.Any, error_page: bool = False) -> list[AccountLink]:
        """The plugins' links that the account menu shows ``user`` (see :mod:`erlen_auth.account_links`)."""
        links = state_of(current_app).account_links
        if not links:
            return []
        from .account_links import require_endpoints, shown_to  # imported by the first page with a link, not at start

        require_endpoints(current_app._get_current_object())  # type: ignore[attr-defined]
        return shown_to(user, links, error_page)

    return {
        "is_safe_redirect": is_safe_redirect,
        "has_password": has_password,
        "account_links": account_links,
        # The layout (erlen/base.html) includes it in its header: log in, or the signed-in user's menu.
        "erlen_account_menu": "auth/account_menu.html",
    }


@erlen.hookimpl
def erlen_log_fields() -> Mapping[str, t.Any] | None:
    """``user_id`` in JSON log lines: the user loaded earlier in the request, if any (none is loaded for it)."""
    from .sessions import loaded_user_id

    user_id = loaded_user_id()
    return None if user_id is None else {"user_id": user_id}


@erlen.hookimpl
def erlen_error_context() -> Mapping[str, t.Any]:
    """``current_user`` for error pages, without loading it: the user loaded earlier in the request, if any;
    and ``current_user_unknown``, true when that user is anonymous although the request carries a log-in.

    A user not loaded (the database is down) or whose attributes were expired
    by a rollback (reading them would load it again) gives the anonymous user
    and ``current_user_unknown``: the account menu then shows neither a "Log
    in" link nor an account, rather than a false one.
    """
    from .sessions import loaded_user_or_anonymous, may_be_signed_in

    user = loaded_user_or_anonymous()
    return {"current_user": user, "current_user_unknown": may_be_signed_in(user)}


#: The help of ``erlen user``, ``erlen role`` and ``erlen permissions``: here, so that ``erlen --help`` lists
#: them without importing :mod:`erlen_auth.cli`, which defines them with the same text.
USER_HELP = "Manage user accounts."
ROLE_HELP = "Manage roles: named groups of permissions."
PERMISSIONS_HELP = "List every permission with the plugin that declares it."


@erlen.hookimpl
def erlen_cli_commands(cli: AppGroup) -> Iterable[click.Command]:
    # Imported when run (LazyCommand): every worker creates the app, none runs these.
    return [
        erlen.LazyCommand("user", "erlen_auth.cli:user_group", help=USER_HELP),
        erlen.LazyCommand("role", "erlen_auth.cli:role_group", help=ROLE_HELP),
        erlen.LazyCommand("permissions", "erlen_auth.cli:permissions_command", help=PERMISSIONS_HELP),
    ]


@erlen.hookimpl
def erlen_shell_context() -> Mapping[str, t.Any]:
    from .models import LoginSession, Role, User

    return {"User": User, "Role": Role, "LoginSession": LoginSession}


@erlen.hookimpl
def erlen_checks(app: Flask, deploy: bool) -> Iterable[CheckMessage]:
    # Imported when called: only `erlen check` runs the checks, never a worker.
    from erlen.checks import error, info, warning

    from . import passkeys
    from .permissions import unknown_in_views
    from .throttling import MemoryStore
    from .throttling_redis import RedisStore

    state = state_of(app)
    config = app.config
    found: list[CheckMessage] = []
    if not state.mail:
        found.append(
            info(
                "auth.I001",
                "Password reset and email confirmation are off: the mail plugin is not enabled.",
                "Add 'mail' to PLUGINS to email reset and confirmation links.",
            )
        )
        if config["AUTH_EMAIL_CONFIRMATION"]:
            found.append(
                warning(
                    "auth.W001",
                    "AUTH_EMAIL_CONFIRMATION is on but the mail plugin is not enabled, so addresses are not confirmed.",
                    "Add 'mail' to PLUGINS, or turn AUTH_EMAIL_CONFIRMATION off.",
                )
            )
    if config["AUTH_REQUIRE_CONFIRMED_EMAIL"] and not state.confirmation_enabled:
        found.append(
            warning(
                "auth.W002",
                "AUTH_REQUIRE_CONFIRMED_EMAIL is on but email confirmation is off, so it has no effect.",
                "Enable the mail plugin and AUTH_EMAIL_CONFIRMATION.",
            )
        )
    store = state.throttle.store
    if isinstance(store, RedisStore):
        unreachable = store.ping()
        if unreachable is not None:
            found.append(
                warning(
                    "auth.W004",
                    f"The throttle's Redis at {store.location} cannot be reached ({unreachable}): until it can, "
                    "each process counts failed log-ins in its own memory, so the limits apply per process.",
                    "Start Redis or correct AUTH_THROTTLE_REDIS_URL; a slow network may need a longer "
                    "AUTH_THROTTLE_REDIS_CONNECT_TIMEOUT or AUTH_THROTTLE_REDIS_READ_TIMEOUT.",
                )
            )
    for endpoint, name in unknown_in_views(app):
        found.append(
            error(
                "auth.E003",
                f"The view {endpoint!r} requires the permission {name!r}, which no enabled plugin declares.",
                "Fix the name, enable the plugin that declares it, or list it in AUTH_PERMISSIONS.",
            )
        )
    if deploy:
        for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
            if not config.get(key):
                found.append(
                    error(
                        "auth.E001" if key.startswith("SESSION") else "auth.E002",
                        f"{key} is off: the cookie that logs users in is also sent over plain HTTP.",
                        f"Serve the app over HTTPS and leave {key} unset (Erlen turns it on outside debug mode).",
                    )
                )
        if (state.reset_enabled or state.confirmation_enabled) and not config.get("TRUSTED_HOSTS"):
            # Flask builds external links from the request's Host header: without a list of the app's
            # own hosts, anyone can ask for a reset of any account with "Host: their-site" and the
            # account's owner is mailed a link that hands the token to that site when followed.
            found.append(
                error(
                    "auth.E004",
                    "TRUSTED_HOSTS is not set: password reset and confirmation links are built from the Host "
                    "header of the request asking for them, so anyone can have them mailed pointing at their "
                    "own site, which receives the token when the link is followed.",
                    "Set TRUSTED_HOSTS to the host names the app is served under, such as "
                    'ERLEN_TRUSTED_HOSTS=\'["notes.example.com"]\' ("notes.example.com:8443" for a port other '
                    "than 80 and 443); requests for other hosts or ports then get a 400.",
                )
            )
        for key in ("SESSION_COOKIE_HTTPONLY", "REMEMBER_COOKIE_HTTPONLY"):
            if not config.get(key):
                found.append(
                    warning(
                        "auth.W003",
                        f"{key} is off: scripts on the page can read the log-in cookie.",
                        f"Leave {key} unset (the auth plugin turns it on) or set it to true.",
                    )
                )
        if isinstance(state.throttle.store, MemoryStore):
            found.append(
                info(
                    "auth.I002",
                    "Failed log-ins are counted in each process's memory: several workers or hosts count apart.",
                    "Set AUTH_THROTTLE_REDIS_URL to share the counts between them.",
                )
            )
    found.extend(passkeys.checks(app, deploy))
    return found


@erlen.hookimpl(optionalhook=True)
def erlen_api_authenticate_token(app: Flask, token: str) -> t.Any:
    """erlen-api's bearer tokens are erlen-auth's personal access tokens (see :mod:`erlen_auth.access_tokens`)."""
    from erlen_api import TokenIdentity, TokenRejected

    from . import access_tokens

    if access_tokens.parse(token) is None:
        return None  # not one of ours: another plugin's tokens may answer
    try:
        found = access_tokens.authenticate_bearer()
    except access_tokens.InvalidTokenError as exc:
        raise TokenRejected(str(exc)) from None
    if found is None:
        return None
    access_tokens.use_token_user(found)
    return TokenIdentity(found.user, found.scopes)


# erlen-ops' hooks, optional (erlen-auth does not depend on erlen-ops): their module is imported when erlen-ops
# calls, never by the workers of an app without it.
@erlen.hookimpl(optionalhook=True)
def erlen_health_checks(app: Flask) -> Mapping[str, Callable[[], None]]:
    from .health import readiness_checks

    return readiness_checks(app)
