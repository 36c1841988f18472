"""erlen-auth: accounts and access control for Erlen apps, as the plugin ``auth``, on Flask-Login.

Names are imported on first use: the models are defined only once something
uses them, so merely installing erlen-auth gives no app its tables.
"""

from __future__ import annotations

import typing as t

from flask_login import current_user

import erlen

from .errors import AuthError, PermissionDeclarationError, UnknownPermissionError
from .permissions import Permission, grant, login_required, permission_required, permissions_of, require_known
from .redirects import is_safe_redirect, safe_next
from .state import AccountLink, AuthState, SecondFactor, SecuritySection, state_of
from .throttling import LoginAttempt, LoginThrottle, MemoryStore, Throttled, ThrottleStore

if t.TYPE_CHECKING:
    from erlen.failover import ServiceHealth as StoreHealth

    from .access_tokens import (
        AccessToken,
        InvalidTokenError,
        TokenUser,
        authenticate_bearer,
        token_auth,
        use_token_user,
    )
    from .account_models import EmailChange, KnownDevice
    from .accounts import (
        AccountExistsError,
        LoginResult,
        authenticate,
        create_user,
        deactivate,
        end_sessions,
        find_user,
        finish_login,
        login,
        logout,
        logout_everywhere,
        relogin,
        set_password,
    )
    from .data_rights import (
        AccountDeletionError,
        ExportError,
        cancel_deletion,
        delete_account,
        export_user,
        purge_deleted,
        request_deletion,
    )
    from .data_rights_models import AccountDeletion
    from .models import AnonymousUser, LoginSession, Role, RolePermission, User, UserRole
    from .oidc_models import AuthIdentity
    from .passkey_models import Passkey
    from .passwords import Passwords
    from .reauth import mark_reauthenticated, reauthentication_required, recently_authenticated
    from .throttling_redis import RedisStore
    from .two_factor import complete_second_factor, has_second_factor, pending_user

__version__ = "0.1.0"

_LAZY = {
    **dict.fromkeys(("AnonymousUser", "LoginSession", "Role", "RolePermission", "User", "UserRole"), "models"),
    **dict.fromkeys(("EmailChange", "KnownDevice"), "account_models"),
    **dict.fromkeys(
        (
            "AccountExistsError",
            "LoginResult",
            "authenticate",
            "create_user",
            "deactivate",
            "end_sessions",
            "find_user",
            "finish_login",
            "login",
            "logout",
            "logout_everywhere",
            "relogin",
            "set_password",
        ),
        "accounts",
    ),
    "Passwords": "passwords",
    **dict.fromkeys(
        ("AccessToken", "InvalidTokenError", "TokenUser", "authenticate_bearer", "token_auth", "use_token_user"),
        "access_tokens",
    ),
    "AuthIdentity": "oidc_models",
    "Passkey": "passkey_models",
    **dict.fromkeys(
        (
            "AccountDeletionError",
            "ExportError",
            "cancel_deletion",
            "delete_account",
            "export_user",
            "purge_deleted",
            "request_deletion",
        ),
        "data_rights",
    ),
    "AccountDeletion": "data_rights_models",
    # Only an app counting failed log-ins in Redis needs it.
    "RedisStore": "throttling_redis",
    # Asked only by whoever checks the throttle store's health (erlen.failover's class, given by the module).
    "StoreHealth": "throttling",
    **dict.fromkeys(("mark_reauthenticated", "reauthentication_required", "recently_authenticated"), "reauth"),
    **dict.fromkeys(("complete_second_factor", "has_second_factor", "pending_user"), "two_factor"),
}


__getattr__ = erlen.lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _LAZY.items()})


__all__ = [
    # models
    "AnonymousUser",
    "AuthIdentity",
    "LoginSession",
    "Role",
    "RolePermission",
    "User",
    "UserRole",
    "Passkey",
    "EmailChange",
    "KnownDevice",
    # accounts
    "AccountExistsError",
    "LoginResult",
    "authenticate",
    "create_user",
    "deactivate",
    "end_sessions",
    "find_user",
    "finish_login",
    "login",
    "logout",
    "logout_everywhere",
    "relogin",
    "set_password",
    # access control
    "Permission",
    "current_user",
    "grant",
    "login_required",
    "permission_required",
    "permissions_of",
    "require_known",
    # re-authentication
    "mark_reauthenticated",
    "reauthentication_required",
    "recently_authenticated",
    # personal access tokens
    "AccessToken",
    "InvalidTokenError",
    "TokenUser",
    "authenticate_bearer",
    "token_auth",
    "use_token_user",
    # second factors
    "SecondFactor",
    "complete_second_factor",
    "has_second_factor",
    "pending_user",
    # data rights
    "AccountDeletion",
    "AccountDeletionError",
    "ExportError",
    "cancel_deletion",
    "delete_account",
    "export_user",
    "purge_deleted",
    "request_deletion",
    # redirects
    "is_safe_redirect",
    "safe_next",
    # machinery
    "AccountLink",
    "AuthError",
    "AuthState",
    "LoginAttempt",
    "LoginThrottle",
    "MemoryStore",
    "Passwords",
    "PermissionDeclarationError",
    "RedisStore",
    "SecuritySection",
    "StoreHealth",
    "ThrottleStore",
    "Throttled",
    "UnknownPermissionError",
    "state_of",
]
