"""Signing in with OpenID Connect providers (Google, Microsoft, GitLab, any other), through Authlib.

``AUTH_OIDC_PROVIDERS`` names the providers; each gets a button on the log-in
page. Authlib's Flask client runs the authorization code flow with PKCE
(S256), a ``state`` bound to the browser's session and a ``nonce``, and
verifies the ID token: its signature against the provider's published keys
(JWKS), ``iss``, ``aud``, ``exp``, ``iat`` and ``nonce``. This module adds
what Authlib leaves to the app: only asymmetric signatures are accepted
(never ``alg: none`` nor a shared-secret HMAC, whatever the provider's
discovery document advertises), the audience must be this client, the
issuer must be the configured one, and the discovery document is checked
once when it is first loaded.

What the identity is then allowed to do lives here too: the table
``auth_identity`` links ``(provider, sub)`` to a user. An email address,
even one the provider says is verified, never links an identity to an
existing account on its own: the owner of the account proves it with
their password first (see :mod:`erlen_auth.oidc_views`).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import time
import typing as t
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from .feature_settings import OIDC_SETTINGS
from .oidc_models import PROVIDER_MAX_LENGTH, AuthIdentity
from .passwords import is_usable
from .state import SecuritySection, state_of

if t.TYPE_CHECKING:
    from .models import User
    from .oidc_client import OIDCClient

#: The key of ``app.extensions`` under which :class:`OIDCState` lives.
EXTENSION_KEY = "auth_oidc"

#: ID token signature algorithms accepted: asymmetric ones only. ``none`` (no signature) is never accepted,
#: nor HS256 and its kin (keyed with the client secret, which more parties than the provider know).
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")

#: Seconds to wait for a provider's answer (discovery, keys, token); the sign-in fails after that.
PROVIDER_TIMEOUT = 10

#: The keys a provider's entry may have.
PROVIDER_KEYS = frozenset(
    {"discovery_url", "issuer", "client_id", "client_secret", "scopes", "label", "preset", "tenant"}
)

_NAME = re.compile(rf"^[a-z0-9][a-z0-9_-]{{0,{PROVIDER_MAX_LENGTH - 1}}}$")


@dataclass(frozen=True)
class Preset:
    """What a common provider's entry need not repeat.

    :param label: the name on the button.
    :param discovery_url: its discovery document; ``{tenant}`` is replaced by the entry's ``tenant``.
    :param issuers: the ``iss`` values its ID tokens carry (``{tenant}`` replaced too); empty: the discovery
        document's ``issuer``.
    :param needs_tenant: the entry must give ``tenant``.
    """

    label: str
    discovery_url: str
    issuers: tuple[str, ...] = ()
    needs_tenant: bool = False


#: Providers configured by name: ``{"google": {"client_id": ..., "client_secret": ...}}`` is enough.
PRESETS: dict[str, Preset] = {
    # Google's tokens carry either form of its issuer (its documentation says so).
    "google": Preset(
        "Google",
        "https://accounts.google.com/.well-known/openid-configuration",
        ("https://accounts.google.com", "accounts.google.com"),
    ),
    # One directory (tenant): "common" would accept tokens whose issuer names any tenant, which the strict
    # issuer check refuses, rightly (any Microsoft customer could then sign in as anyone it names).
    "microsoft": Preset(
        "Microsoft",
        "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration",
        needs_tenant=True,
    ),
    "gitlab": Preset("GitLab", "https://gitlab.com/.well-known/openid-configuration", ("https://gitlab.com",)),
}

#: Tenants of Microsoft's that name no single directory.
_MULTI_TENANT = frozenset({"common", "organizations", "consumers"})


@dataclass(frozen=True)
class ProviderConfig:
    """One provider of ``AUTH_OIDC_PROVIDERS``, completed from its preset.

    :param name: its key: in the routes and the ``auth_identity`` table.
    :param label: its name on buttons and pages.
    :param discovery_url: the address of its discovery document.
    :param issuers: the accepted ``iss`` values; empty: the discovery document's ``issuer``.
    :param client_id: the client ID the provider issued to this app.
    :param client_secret: its secret.
    :param scopes: the scopes asked for, space-separated; ``openid`` among them.
    """

    name: str
    label: str
    discovery_url: str
    issuers: tuple[str, ...]
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    scopes: str = "openid email profile"


def _secure_url(url: str) -> bool:
    """Whether ``url`` is HTTPS, or HTTP to this machine (a provider in development or tests)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _text(name: str, entry: t.Mapping[str, t.Any], key: str, what: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"gives the provider {name!r} no {key} (a non-empty string: {what})")
    return value.strip()


def parse_provider(name: str, entry: t.Mapping[str, t.Any]) -> ProviderConfig:
    """The provider ``name`` of ``AUTH_OIDC_PROVIDERS``, checked and completed from its preset.

    :param name: the key.
    :param entry: its table.
    :raises ValueError: what is wrong, worded to follow "The setting ... has the invalid value ...: it".
    """
    if not _NAME.match(name):
        raise ValueError(
            f"names a provider {name!r}: a key is 1 to {PROVIDER_MAX_LENGTH} lower-case letters, digits, "
            "'-' or '_', starting with a letter or digit (it appears in addresses such as /auth/oidc/NAME/login)"
        )
    if not isinstance(entry, t.Mapping):
        raise ValueError(f"gives the provider {name!r} a {type(entry).__name__}: each provider is a table")
    unknown = sorted(set(entry) - PROVIDER_KEYS)
    if unknown:
        raise ValueError(
            f"gives the provider {name!r} the unknown key(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(PROVIDER_KEYS))})"
        )
    preset_name = entry.get("preset", name if name in PRESETS else None)
    preset: Preset | None = None
    if preset_name is not None:
        preset = PRESETS.get(preset_name) if isinstance(preset_name, str) else None
        if preset is None:
            raise ValueError(
                f"gives the provider {name!r} the preset {preset_name!r}, which does not exist "
                f"(presets: {', '.join(sorted(PRESETS))})"
            )
    client_id = _text(name, entry, "client_id", "the client ID the provider issued to this app")
    client_secret = _text(name, entry, "client_secret", "the client secret the provider issued with it")
    scopes_value = entry.get("scopes", "openid email profile")
    if isinstance(scopes_value, (list, tuple)) and all(isinstance(scope, str) for scope in scopes_value):
        scopes_value = " ".join(scopes_value)
    if not isinstance(scopes_value, str) or "openid" not in scopes_value.split():
        raise ValueError(
            f"gives the provider {name!r} the scopes {scopes_value!r}: they must include 'openid' "
            "(a string such as 'openid email profile', or a list)"
        )
    issuers: tuple[str, ...] = ()
    discovery_url: str
    if "discovery_url" in entry or "issuer" in entry:
        if "issuer" in entry:
            issuers = (_text(name, entry, "issuer", "the provider's issuer URL"),)
        if "discovery_url" in entry:
            discovery_url = _text(name, entry, "discovery_url", "the address of its discovery document")
        else:
            discovery_url = issuers[0].rstrip("/") + "/.well-known/openid-configuration"
    elif preset is not None:
        tenant = ""
        if preset.needs_tenant:
            tenant = _text(name, entry, "tenant", f"the {preset.label} directory (tenant) ID or domain")
            if tenant.lower() in _MULTI_TENANT or not re.match(r"^[A-Za-z0-9.-]+$", tenant):
                raise ValueError(
                    f"gives the provider {name!r} the tenant {tenant!r}: give one directory's ID or domain "
                    "(multi-tenant values such as 'common' cannot be checked against the token's issuer)"
                )
        discovery_url = preset.discovery_url.format(tenant=tenant)
        issuers = tuple(issuer.format(tenant=tenant) for issuer in preset.issuers)
    else:
        raise ValueError(
            f"gives the provider {name!r} neither discovery_url nor issuer: give one (or use a preset name: "
            f"{', '.join(sorted(PRESETS))})"
        )
    for url in (discovery_url, *(issuers if "issuer" in entry else ())):
        if not _secure_url(url):
            raise ValueError(
                f"gives the provider {name!r} the address {url!r}: use https:// (plain http only to this machine)"
            )
    label = entry.get("label", preset.label if preset is not None else name.replace("-", " ").title())
    if not isinstance(label, str) or not label.strip():
        raise ValueError(f"gives the provider {name!r} an empty label")
    return ProviderConfig(
        name=name,
        label=label.strip(),
        discovery_url=discovery_url,
        issuers=issuers,
        client_id=client_id,
        client_secret=client_secret,
        scopes=scopes_value,
    )


def parse_providers(value: t.Mapping[str, t.Any]) -> dict[str, ProviderConfig]:
    """Every provider of ``AUTH_OIDC_PROVIDERS``, checked; see :func:`parse_provider`."""
    return {name: parse_provider(name, entry) for name, entry in value.items()}


#: Declared in :mod:`erlen_auth.feature_settings` (importable without this module's libraries).
SETTINGS = OIDC_SETTINGS


class ProviderError(Exception):
    """A provider's discovery document cannot be used (this app's or the provider's configuration is wrong)."""


@dataclass
class OIDCState:
    """The providers of one app and their Authlib clients, in ``app.extensions["auth_oidc"]``.

    :param providers: the configured providers, by name.
    :param oauth: Authlib's registry of the app's clients (``None`` without providers: Authlib, and the
        HTTP and JOSE libraries it brings, are imported only by an app that has some).
    :param clients: each provider's client, by name.
    """

    providers: dict[str, ProviderConfig]
    oauth: t.Any
    clients: dict[str, OIDCClient] = field(default_factory=dict)


def oidc_state(app: Flask | None = None) -> OIDCState:
    """The :class:`OIDCState` of ``app``, or of the current app: one without providers if it has none.

    :param app: the app; the current app by default.
    """
    found = (app or current_app).extensions.get(EXTENSION_KEY)
    # An app without providers never imports this module when set up (init is not called): nothing is stored.
    return t.cast(OIDCState, found) if found is not None else OIDCState(providers={}, oauth=None)


def init(app: Flask) -> None:
    """Register the app's providers with Authlib and add the buttons and the security page's section.

    Nothing is fetched from the providers here: the discovery document is
    loaded at the first sign-in, so an app starts while a provider is down.
    """
    providers = parse_providers(app.config["AUTH_OIDC_PROVIDERS"])
    state = OIDCState(providers=providers, oauth=None)
    if providers:
        from .oidc_client import OIDCRegistry

        state.oauth = OIDCRegistry()
        # Not oauth.init_app(app): that takes app.extensions["authlib.integrations.flask_client"], which belongs
        # to the app's own Authlib clients if it has any.
        state.oauth.app = app
    for name, provider in providers.items():
        client = state.oauth.register(
            name,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            server_metadata_url=provider.discovery_url,
            client_kwargs={
                "scope": provider.scopes,
                "code_challenge_method": "S256",
                "default_timeout": PROVIDER_TIMEOUT,
            },
        )
        client.provider = provider
        state.clients[name] = client
    app.extensions[EXTENSION_KEY] = state
    if providers:
        auth = state_of(app)
        auth.login_parts.append("auth/oidc/login_buttons.html")
        auth.reauth_parts.append("auth/oidc/reauth_buttons.html")
        from . import security_page

        security_page.add(app, SecuritySection("auth/oidc/security.html", 50, "Linked accounts"))


# The identities


def find_identity(db: Session, provider: str, subject: str) -> AuthIdentity | None:
    """The identity ``subject`` at ``provider``, or ``None``."""
    return db.scalar(sa.select(AuthIdentity).where(AuthIdentity.provider == provider, AuthIdentity.subject == subject))


def identities_of(db: Session, user: User) -> list[AuthIdentity]:
    """The identities linked to ``user``, oldest first."""
    return list(
        db.scalars(sa.select(AuthIdentity).where(AuthIdentity.user_id == user.id).order_by(AuthIdentity.id)).all()
    )


def link(db: Session, user: User, provider: ProviderConfig, subject: str, email: str | None) -> AuthIdentity:
    """Link the identity ``subject`` at ``provider`` to ``user`` and queue the ``provider_linked`` notice.

    Flushed, not committed: the caller commits (an ``IntegrityError`` then means
    someone linked it in the meantime).
    """
    from . import notices

    now = dt.datetime.now(dt.UTC)
    identity = AuthIdentity(user_id=user.id, provider=provider.name, subject=subject, email=email, last_used_at=now)
    db.add(identity)
    db.flush()
    notices.notify(user, "provider_linked", provider=provider.label, identity_email=email, db=db)
    return identity


def passkey_count(db: Session, user: User) -> int:
    """How many passkeys ``user`` has."""
    from .passkey_models import Passkey

    return int(db.scalar(sa.select(sa.func.count()).select_from(Passkey).where(Passkey.user_id == user.id)) or 0)


def can_unlink(db: Session, user: User, identity: AuthIdentity) -> bool:
    """Whether ``user`` keeps a way in without ``identity``: a password, another identity or a passkey."""
    if is_usable(user.password_hash):
        return True
    others = db.scalar(
        sa.select(sa.func.count())
        .select_from(AuthIdentity)
        .where(AuthIdentity.user_id == user.id, AuthIdentity.id != identity.id)
    )
    return bool(others) or passkey_count(db, user) > 0


# The sign-in waiting for the owner of an existing account

#: The session key of an identity waiting to be linked to the account with its (verified) email address.
PENDING_KEY = "erlen_auth_oidc_pending"

#: Seconds an identity waits there for the account's owner to sign in.
PENDING_SECONDS = 600


@dataclass(frozen=True)
class PendingLink:
    """An identity a provider vouched for, waiting for the owner of the account with its email to prove it.

    :param provider: the provider's name.
    :param subject: the identity's ``sub``.
    :param email: the verified address it gave.
    :param user_id: the account with that address.
    :param expires: when it stops waiting (a UNIX time).
    """

    provider: str
    subject: str
    email: str
    user_id: int
    expires: float

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "provider": self.provider,
            "subject": self.subject,
            "email": self.email,
            "user_id": self.user_id,
            "expires": self.expires,
        }

    @classmethod
    def load(cls, data: object) -> PendingLink | None:
        """The pending link kept in the session, or ``None`` when missing, malformed or expired."""
        if not isinstance(data, dict):
            return None
        try:
            pending = cls(
                provider=str(data["provider"]),
                subject=str(data["subject"]),
                email=str(data["email"]),
                user_id=int(data["user_id"]),
                expires=float(data["expires"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return pending if pending.expires > time.time() else None
