"""The settings of erlen-auth's features, declared by the plugin module without importing the features.

``erlen_settings`` runs whenever the app is created, ``erlen --help`` included,
which creates it without SQLAlchemy or WTForms (see :func:`erlen.defer_setup`);
the modules of the features import both. Each feature module keeps its list as
``SETTINGS`` too.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit

import erlen


def _parse_providers(value: t.Mapping[str, t.Any]) -> t.Any:
    """:func:`erlen_auth.oidc.parse_providers`, imported when ``AUTH_OIDC_PROVIDERS`` is set."""
    from .oidc import parse_providers

    return parse_providers(value)


def _valid_origins(origins: list[str] | None) -> None:
    for origin in origins or ():
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
            raise ValueError(
                f"must list origins, a scheme and a host with an optional port such as 'https://notes.example.com', "
                f"and {origin!r} is not one"
            )


def _valid_rp_id(rp_id: str | None) -> None:
    if rp_id is not None and (not rp_id or "/" in rp_id or ":" in rp_id or rp_id != rp_id.strip().lower()):
        raise ValueError(
            f"must be a lower-case domain name without scheme or port, such as 'example.com', not {rp_id!r}"
        )


ACCESS_TOKEN_SETTINGS = [
    erlen.Setting(
        "ACCESS_TOKEN_DEFAULT_DAYS",
        int,
        default=90,
        validate=erlen.at_least(1),
        help="Days a new personal access token is valid for unless its maker chooses otherwise.",
    ),
    erlen.Setting(
        "ACCESS_TOKEN_MAX_DAYS",
        int | None,
        default=365,
        validate=erlen.at_least(1),
        help="The most days a personal access token may be valid for; unset (None) lets tokens never expire.",
    ),
]


EMAIL_CHANGE_SETTINGS = [
    erlen.Setting(
        "EMAIL_CHANGE_MAX_AGE",
        int,
        default=86400,
        validate=erlen.at_least(60),
        help="Seconds the link confirming a new email address stays valid.",
    ),
    erlen.Setting(
        "EMAIL_CHANGE_UNDO_DAYS",
        int,
        default=7,
        validate=erlen.at_least(1),
        help="Days the link mailed to the old address after an email change can undo it.",
    ),
]


OIDC_SETTINGS = [
    erlen.Setting(
        "OIDC_PROVIDERS",
        dict[str, dict[str, t.Any]],
        default={},
        secret=True,  # the client secrets
        validate=_parse_providers,
        help="OpenID Connect providers to log in with, by name: {client_id, client_secret} and discovery_url "
        "or issuer (google, microsoft with tenant, and gitlab need neither), optionally scopes and label.",
    ),
]


PASSKEYS_SETTINGS = [
    erlen.Setting(
        "PASSKEY_RP_ID",
        str | None,
        default=None,
        validate=_valid_rp_id,
        help="The relying party id of passkeys: the domain they belong to, such as 'example.com' (they then work on "
        "its subdomains too). Default: the host name of the first AUTH_PASSKEY_ORIGINS entry, else the request's. "
        "Passkeys registered under one id do not work under another: choose it once.",
    ),
    erlen.Setting(
        "PASSKEY_ORIGINS",
        list[str] | None,
        default=None,
        validate=_valid_origins,
        help="The origins passkey ceremonies may happen on, such as ['https://notes.example.com']. Default: the "
        "request's scheme and host, which is used outside debug mode only when TRUSTED_HOSTS is set.",
    ),
    erlen.Setting(
        "PASSKEY_RP_NAME",
        str | None,
        default=None,
        help="The site's name that authenticators show when a passkey is made (default: the relying party id).",
    ),
    erlen.Setting(
        "PASSKEY_TIMEOUT",
        int,
        default=300,
        validate=erlen.at_least(30),
        help="Seconds a passkey ceremony may take: the browser's timeout and the life of its challenge.",
    ),
]


REAUTH_SETTINGS = [
    erlen.Setting(
        "REAUTH_MINUTES",
        int,
        default=10,
        validate=erlen.at_least(1),
        help="Minutes after logging in or re-authenticating during which sensitive actions (email, second "
        "factors, passkeys, access tokens, deleting the account) are allowed without asking again.",
    ),
]


TWO_FACTOR_SETTINGS = [
    erlen.Setting(
        "TWO_FACTOR_REQUIRED",
        bool,
        default=False,
        help="Require a second factor of every user: those without one are sent to set it up after logging in.",
    ),
    erlen.Setting(
        "TWO_FACTOR_REQUIRED_PERMISSIONS",
        list[str],
        default=[],
        help="Require a second factor of every user who holds one of these permissions, such as ['admin.access'].",
    ),
    erlen.Setting(
        "TWO_FACTOR_PENDING_SECONDS",
        int,
        default=300,
        validate=erlen.at_least(30),
        help="Seconds a user has, after the password, to give the second factor before logging in again.",
    ),
    erlen.Setting(
        "TWO_FACTOR_ISSUER",
        str | None,
        default=None,
        help="The name authenticator apps show next to the account; SITE_NAME by default, else the host name.",
    ),
]


DATA_RIGHTS_SETTINGS = [
    erlen.Setting(
        "DELETION_GRACE_DAYS",
        int,
        default=7,
        validate=erlen.at_least(0),
        help="Days an account is kept after its owner asks to delete it; logging in again, or the link of the "
        "notice mail, cancels within them. `erlen user purge-deleted` deletes it afterwards (0: delete at once).",
    ),
    erlen.Setting(
        "DATA_EXPORT_LIMIT",
        int,
        default=5,
        validate=erlen.at_least(0),
        help='Data exports ("Download my data") one user may make in AUTH_DATA_EXPORT_WINDOW seconds (0: no limit).',
    ),
    erlen.Setting(
        "DATA_EXPORT_WINDOW",
        int,
        default=3600,
        validate=erlen.at_least(1),
        help="Seconds data exports are counted for, from the first.",
    ),
]
