"""Passkeys (WebAuthn): signing in, and proving who one is again, without a password.

A passkey is a key pair made by the user's authenticator (the phone, the
computer, a security key) for this site only; the browser lets the site use
it only from an origin under the relying party id (``AUTH_PASSKEY_RP_ID``),
so a look-alike site cannot. This module runs the two WebAuthn ceremonies
with `py_webauthn <https://github.com/duo-labs/py_webauthn>`_:

* **registration** (``navigator.credentials.create``): a logged-in user who
  re-authenticated adds a passkey and names it;
* **authentication** (``navigator.credentials.get``): for signing in (any of
  the site's discoverable passkeys, user verification required, so a passkey
  is two factors at once: the device and its PIN or biometric), for
  re-authenticating, and as the second step of a password sign-in.

**Challenges** are made on the server (32 random bytes), kept in the Flask
session with the ceremony they are for, the user they are for and their
expiry (``AUTH_PASSKEY_TIMEOUT``), and taken out of it by the first answer,
right or wrong: a challenge answers one ceremony of one kind, once.

**Where the ceremony may happen.** The expected origins are
``AUTH_PASSKEY_ORIGINS``, else the request's own scheme and host; the
relying party id is ``AUTH_PASSKEY_RP_ID``, else the host name of the first
configured origin, else the request's host name. Taking them from the
request is safe only when the ``Host`` header was checked: a forged
``Host: evil.example`` would otherwise make ``https://evil.example`` an
expected origin (a phishing relay on a sibling subdomain could then pass
the origin check). So outside debug and testing, origins are taken from
the request only when ``TRUSTED_HOSTS`` is set (Flask and Erlen then refuse
other hosts and ports before any view runs) or the host is a loopback name;
otherwise every ceremony is refused (503, :class:`PasskeyNotConfigured`)
and ``erlen check --deploy`` reports ``auth.E005``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import secrets
import time
import typing as t
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, current_app, request, session

from erlen import split_host
from erlen_db import get_session

from .feature_settings import PASSKEYS_SETTINGS
from .passkey_models import NAME_MAX_LENGTH, USER_HANDLE_LENGTH, Passkey
from .state import SecondFactor, SecuritySection

if t.TYPE_CHECKING:
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

    from erlen.checks import CheckMessage

    from .models import User

# py_webauthn (with cryptography, pydantic and pyasn1) is imported by the functions of the ceremonies, when a
# passkey is made or used: every process of an app imports this module, few of them ever see a passkey.

logger = logging.getLogger("erlen_auth.passkeys")

#: The ceremonies a challenge can be for; a challenge made for one is refused by the others.
REGISTER, LOGIN, REAUTH, SECOND_FACTOR = "register", "login", "reauth", "second_factor"
CEREMONIES = (REGISTER, LOGIN, REAUTH, SECOND_FACTOR)

#: The key of the Flask session holding the pending challenges, one per ceremony.
SESSION_KEY = "erlen_auth.passkey"

#: Host names whose requests can be taken at their word without ``TRUSTED_HOSTS``: only this machine reaches them.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


#: Declared in :mod:`erlen_auth.feature_settings` (importable without this module's libraries).
SETTINGS = PASSKEYS_SETTINGS


class PasskeyError(Exception):
    """A passkey ceremony was refused.

    :param code: a short, stable reason, the ``error`` of the JSON answer: ``invalid`` (the answer does not
        verify), ``expired`` (no challenge pending for this ceremony), ``unknown`` (no such passkey here, or
        not this user's), ``cloned`` (the signature counter went back), ``exists``, ``name``.
    :param message: what happened, for people.
    :param status: the HTTP status of the answer.
    """

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class PasskeyNotConfigured(PasskeyError):
    """Where passkeys may be used cannot be told safely from this request: set ``AUTH_PASSKEY_ORIGINS``."""

    def __init__(self, message: str) -> None:
        super().__init__("not_configured", message, status=503)


@dataclass(frozen=True)
class RelyingParty:
    """Where passkey ceremonies happen for the current request.

    :param id: the relying party id, a domain.
    :param name: the name authenticators show.
    :param origins: the origins a browser's answer may come from.
    """

    id: str
    name: str
    origins: tuple[str, ...]


def _request_is_trusted(app: Flask) -> bool:
    if app.debug or app.testing or app.config.get("TRUSTED_HOSTS"):
        return True
    name, _ = split_host(request.host)
    return name.lower() in LOOPBACK_HOSTS


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def relying_party() -> RelyingParty:
    """The relying party of the current request, from the settings or, when it can be trusted, the request.

    :raises PasskeyNotConfigured: the origin would come from an unchecked ``Host`` header in production, or the
        relying party id would be an IP address (WebAuthn allows domain names only).
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    configured: list[str] | None = config["AUTH_PASSKEY_ORIGINS"]
    if configured:
        origins = tuple(origin.rstrip("/") for origin in configured)
    elif _request_is_trusted(app):
        origins = (f"{request.scheme}://{request.host}",)
    else:
        raise PasskeyNotConfigured(
            "Passkeys are not set up on this site: set AUTH_PASSKEY_ORIGINS, or TRUSTED_HOSTS, so that the "
            "origin they are checked against does not come from the request's Host header."
        )
    rp_id = config["AUTH_PASSKEY_RP_ID"] or urlsplit(origins[0]).hostname or ""
    if _is_ip_address(rp_id):
        raise PasskeyNotConfigured(
            f"Passkeys need a domain name, and this site is visited as {rp_id}, an IP address: visit it as "
            "http://localhost (in development) or set AUTH_PASSKEY_RP_ID and AUTH_PASSKEY_ORIGINS."
        )
    return RelyingParty(id=rp_id, name=config["AUTH_PASSKEY_RP_NAME"] or rp_id, origins=origins)


def available() -> bool:
    """Whether passkey ceremonies can run on the current request (the log-in page shows its button only then)."""
    try:
        relying_party()
    except PasskeyNotConfigured:
        return False
    return True


# Challenges


def _remember(ceremony: str, challenge: bytes, user_id: int | None, **extra: t.Any) -> None:
    from webauthn.helpers import bytes_to_base64url

    pending = session.get(SESSION_KEY)
    pending = dict(pending) if isinstance(pending, dict) else {}
    pending[ceremony] = {
        "challenge": bytes_to_base64url(challenge),
        "expires": time.time() + current_app.config["AUTH_PASSKEY_TIMEOUT"],
        "user": user_id,
        **extra,
    }
    session[SESSION_KEY] = pending


def _take(ceremony: str, user_id: int | None) -> dict[str, t.Any]:
    """Take the pending challenge of ``ceremony`` out of the session: it answers one attempt, right or wrong.

    :raises PasskeyError: none is pending for this ceremony and user, or it expired.
    """
    pending = session.get(SESSION_KEY)
    entry = pending.get(ceremony) if isinstance(pending, dict) else None
    if isinstance(pending, dict) and ceremony in pending:
        rest = {key: value for key, value in pending.items() if key != ceremony}
        if rest:
            session[SESSION_KEY] = rest
        else:
            session.pop(SESSION_KEY, None)
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("challenge"), str)
        or not isinstance(entry.get("expires"), int | float)
        or entry["expires"] < time.time()
        or entry.get("user") != user_id
    ):
        raise PasskeyError("expired", "The passkey request expired or was used already: try again.")
    return entry


def _timeout_ms() -> int:
    return int(current_app.config["AUTH_PASSKEY_TIMEOUT"]) * 1000


def _options_json(options: t.Any) -> dict[str, t.Any]:
    from webauthn import options_to_json

    return t.cast(dict[str, t.Any], json.loads(options_to_json(options)))


# Names


def clean_name(name: object) -> str:
    """A passkey's name as given, stripped, its runs of spaces and control characters made one space.

    :raises PasskeyError: the name is empty or longer than :data:`NAME_MAX_LENGTH` characters.
    """
    if not isinstance(name, str):
        raise PasskeyError("name", "Give the passkey a name.")
    cleaned = " ".join("".join(" " if unicodedata.category(char)[0] in "CZ" else char for char in name).split())
    if not cleaned:
        raise PasskeyError("name", "Give the passkey a name.")
    if len(cleaned) > NAME_MAX_LENGTH:
        raise PasskeyError("name", f"Use at most {NAME_MAX_LENGTH} characters for the name.")
    return cleaned


# Queries


def passkeys_of(user: User) -> list[Passkey]:
    """The passkeys of ``user``, oldest first."""
    query = sa.select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.created_at, Passkey.id)
    return list(get_session().scalars(query))


def has_passkey(user: User) -> bool:
    """Whether ``user`` has at least one passkey (one query)."""
    found = get_session().scalar(sa.select(Passkey.id).where(Passkey.user_id == user.id).limit(1))
    return found is not None


def _descriptors(passkeys: t.Iterable[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

    descriptors = []
    for passkey in passkeys:
        transports = []
        for name in filter(None, passkey.transports.split(",")):
            try:
                transports.append(AuthenticatorTransport(name))
            except ValueError:
                continue  # a transport this version of py_webauthn does not know: the browser finds the key anyway
        descriptors.append(PublicKeyCredentialDescriptor(id=passkey.credential_id, transports=transports or None))
    return descriptors


# Registration


def registration_options(user: User, name: object) -> dict[str, t.Any]:
    """Options for ``navigator.credentials.create``, to add a passkey called ``name`` to ``user``'s account.

    The challenge, the name and the user handle are kept in the session for :func:`register`.

    :param user: the user adding a passkey.
    :param name: the name the user gives it (checked here, before the authenticator is asked).
    :raises PasskeyError: the name is not acceptable, or the relying party cannot be told.
    """
    from webauthn import generate_registration_options
    from webauthn.helpers import bytes_to_base64url
    from webauthn.helpers.structs import (
        AttestationConveyancePreference,
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    cleaned = clean_name(name)
    rp = relying_party()
    existing = passkeys_of(user)
    # One handle per account: an authenticator keeps one passkey per site and handle, so a second passkey made
    # on the same device replaces the first one's entry there rather than showing the account twice.
    handle = existing[0].user_handle if existing else secrets.token_bytes(USER_HANDLE_LENGTH)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user.email,
        user_id=handle,
        user_display_name=user.email,
        timeout=_timeout_ms(),
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    _remember(REGISTER, options.challenge, user.id, name=cleaned, handle=bytes_to_base64url(handle))
    return _options_json(options)


def register(user: User, credential: object) -> Passkey:
    """Verify the browser's answer to :func:`registration_options` and add the passkey (not committed).

    Queues the notice ``passkey_added`` in the same transaction: the caller commits both.

    :param user: the user adding a passkey (the one the options were made for).
    :param credential: the ``PublicKeyCredential`` the browser made, as JSON (base64url fields).
    :raises PasskeyError: no pending challenge, or the answer does not verify.
    """
    from webauthn import verify_registration_response
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.exceptions import WebAuthnException
    from webauthn.helpers.parse_registration_credential_json import parse_registration_credential_json

    from . import notices

    entry = _take(REGISTER, user.id)
    rp = relying_party()
    try:
        parsed = parse_registration_credential_json(t.cast(t.Any, credential))
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(entry["challenge"]),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        logger.info("Passkey registration refused for user %s: %s", user.id, exc)
        raise PasskeyError("invalid", f"The passkey could not be verified: {exc}") from None
    if not secrets.compare_digest(parsed.raw_id, verified.credential_id):
        raise PasskeyError("invalid", "The passkey could not be verified: its id is not the one its data carries.")
    db = get_session()
    if db.scalar(sa.select(Passkey.id).where(Passkey.credential_id == verified.credential_id)) is not None:
        raise PasskeyError("exists", "This passkey is registered already.")
    passkey = Passkey(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        user_handle=base64url_to_bytes(entry["handle"]),
        transports=",".join(transport.value for transport in parsed.response.transports or ()),
        aaguid=verified.aaguid,
        name=str(entry["name"]),
    )
    db.add(passkey)
    db.flush()
    notices.notify(user, "passkey_added", passkey=passkey)
    return passkey


# Authentication


def authentication_options(ceremony: str, user: User | None = None) -> dict[str, t.Any]:
    """Options for ``navigator.credentials.get``, for ``ceremony``; user verification is required.

    :param ceremony: :data:`LOGIN` (``user`` is ``None``: any discoverable passkey of the site, the
        browser lets the person choose), :data:`REAUTH` or :data:`SECOND_FACTOR` (``user``'s passkeys).
    :param user: whose passkeys are allowed; ``None`` for any.
    :raises PasskeyError: the relying party cannot be told, or ``user`` has no passkey.
    """
    from webauthn import generate_authentication_options
    from webauthn.helpers.structs import UserVerificationRequirement

    if ceremony not in CEREMONIES or ceremony == REGISTER:
        raise ValueError(f"not an authentication ceremony: {ceremony!r}")
    rp = relying_party()
    allowed = _descriptors(passkeys_of(user)) if user is not None else []
    if user is not None and not allowed:
        # Empty allowCredentials would let the browser offer any passkey of the site, other accounts' too.
        raise PasskeyError("unknown", "You have no passkey on this site.")
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=_timeout_ms(),
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _remember(ceremony, options.challenge, user.id if user is not None else None)
    return _options_json(options)


def authenticate(ceremony: str, credential: object, user: User | None = None) -> Passkey:
    """Verify the browser's answer to :func:`authentication_options` and record the use (not committed).

    :param ceremony: the ceremony the options were made for.
    :param credential: the ``PublicKeyCredential`` the browser returned, as JSON (base64url fields).
    :param user: the user the options were made for; the passkey must be theirs. ``None`` for a sign-in.
    :returns: the passkey used, its counter and last use updated (the caller commits).
    :raises PasskeyError: no pending challenge for this ceremony, an unknown passkey or another user's,
        an answer that does not verify (origin, relying party, challenge, signature, user not verified), or
        a signature counter that went back (logged as a warning: the passkey may have been copied).
    """
    from webauthn import verify_authentication_response
    from webauthn.helpers import base64url_to_bytes
    from webauthn.helpers.exceptions import WebAuthnException
    from webauthn.helpers.parse_authentication_credential_json import parse_authentication_credential_json

    entry = _take(ceremony, user.id if user is not None else None)
    rp = relying_party()
    try:
        parsed = parse_authentication_credential_json(t.cast(t.Any, credential))
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise PasskeyError("invalid", f"The passkey's answer is malformed: {exc}") from None
    passkey = get_session().scalar(sa.select(Passkey).where(Passkey.credential_id == parsed.raw_id))
    if passkey is None or (user is not None and passkey.user_id != user.id):
        raise PasskeyError(
            "unknown",
            "This passkey is not registered on this site." if user is None else "This passkey is not one of yours.",
        )
    handle = parsed.response.user_handle
    if handle is not None and not secrets.compare_digest(handle, passkey.user_handle):
        raise PasskeyError("unknown", "This passkey is not registered on this site.")
    try:
        # The counter is checked below, after the signature: only a signed answer may be called a clone.
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=base64url_to_bytes(entry["challenge"]),
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        logger.info("Passkey %s of user %s refused (%s): %s", passkey.id, passkey.user_id, ceremony, exc)
        raise PasskeyError("invalid", f"The passkey could not be verified: {exc}") from None
    new_count = verified.new_sign_count
    if (new_count > 0 or passkey.sign_count > 0) and new_count <= passkey.sign_count:
        logger.warning(
            "Passkey %s of user %s answered with signature counter %s, not above the %s it had reached: "
            "the authenticator may have been cloned; the log-in was refused.",
            passkey.id,
            passkey.user_id,
            new_count,
            passkey.sign_count,
        )
        raise PasskeyError(
            "cloned", "This passkey cannot be trusted any more (its counter went back): use another way in."
        )
    passkey.sign_count = new_count
    passkey.last_used_at = dt.datetime.now(dt.UTC)
    return passkey


# Managing


def remove(user: User, passkey: Passkey) -> None:
    """Delete ``passkey`` of ``user`` and queue the notice ``passkey_removed`` (the caller commits)."""
    from . import notices

    name = passkey.name
    get_session().delete(passkey)
    notices.notify(user, "passkey_removed", name=name)


def rename(passkey: Passkey, name: object) -> None:
    """Give ``passkey`` a new name (the caller commits).

    :raises PasskeyError: the name is empty or too long.
    """
    passkey.name = clean_name(name)


# Wiring


#: The section of the security page.
SECTION = SecuritySection("auth/passkeys/section.html", 40, "Passkeys")

#: The name of passkeys among the kinds of second factor.
SECOND_FACTOR_NAME = "passkey"


def usable_as_second_factor(user: User) -> bool:
    """Whether the two-factor page offers ``user`` their passkey: they have one, and another second factor.

    A passkey alone does not turn the second step on: a user who signs in with their password and lost
    the device of their only passkey would be locked out (a passkey comes with no recovery codes). Once
    the user has set up another second factor (TOTP, with its recovery codes), a password sign-in asks
    for one, and a passkey is one.
    """
    from .state import state_of

    others = [factor for factor in state_of().second_factors if factor.name != SECOND_FACTOR_NAME]
    return has_passkey(user) and any(factor.enrolled(user) for factor in others)


def init(app: Flask) -> None:
    """Add the passkeys' section to the security page, their buttons to the log-in and re-authentication pages,
    and passkeys to the kinds of second factor."""
    from . import security_page
    from .state import state_of

    state = state_of(app)
    state.second_factors.append(
        SecondFactor(
            SECOND_FACTOR_NAME, usable_as_second_factor, "auth/passkeys/two_factor_part.html", standalone=False
        )
    )
    security_page.add(app, SECTION)
    state.login_parts.append("auth/passkeys/login_part.html")
    state.reauth_parts.append("auth/passkeys/reauth_part.html")
    app.add_template_global(available, "erlen_passkeys_available")
    app.add_template_global(passkeys_of, "erlen_passkeys_of")


def checks(app: Flask, deploy: bool) -> list[CheckMessage]:
    """``auth.E005`` in deployment checks: the origin of passkey ceremonies would come from the ``Host`` header."""
    # Imported when called: only `erlen check` runs the checks, never a worker.
    from erlen.checks import error

    config = app.config
    if not deploy or config.get("AUTH_PASSKEY_ORIGINS") or config.get("TRUSTED_HOSTS"):
        return []
    return [
        error(
            "auth.E005",
            "Passkeys cannot be used: neither AUTH_PASSKEY_ORIGINS nor TRUSTED_HOSTS is set, and the origin "
            "passkeys are checked against must not come from the request's Host header.",
            "Set AUTH_PASSKEY_ORIGINS (such as ['https://notes.example.com']) or TRUSTED_HOSTS.",
        )
    ]
