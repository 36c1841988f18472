"""TOTP second factor (RFC 6238, with pyotp) and recovery codes.

**The secret is encrypted at rest.** A TOTP secret is a password the server
must be able to read back, so it cannot be hashed; kept in clear, a copy of
the database (a leaked backup, an SQL injection that reads) would give every
user's second factor away. It is encrypted with Fernet (AES-128-CBC with
HMAC-SHA256, from ``cryptography``) under a key derived from ``SECRET_KEY``
with HKDF-SHA256, so reading the database alone is not enough. Keys in
``SECRET_KEY_FALLBACKS`` still decrypt, and each accepted code re-encrypts
the secret under the current key: rotate ``SECRET_KEY`` as for signed
links, keeping the old key in the fallbacks until users have signed in.
Losing every key that encrypted a secret makes it unreadable: its user
signs in with a recovery code, or an administrator resets the second
factor (``erlen user two-factor reset EMAIL``).

**Recovery codes are stored as keyed hashes.** They are random (60 bits
each, from :mod:`secrets`), not chosen by people, so a slow password hash
would add nothing against guessing and cost a hash per stored code on each
try; an HMAC-SHA256 keyed with another key derived from ``SECRET_KEY`` is
enough, and without that key a copy of the table cannot even be searched
offline. Each works once: using it sets ``used_at`` in an ``UPDATE`` that
only matches an unused code, so two requests with one code cannot both pass.

**A code works once.** The time step (``unix time // 30``) of the last code
accepted is stored; a code is accepted in the step before, the current one
or the next (clock drift), and only for a step later than the last one used,
in an ``UPDATE`` conditioned on it (so parallel requests cannot both use it).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import typing as t

import sqlalchemy as sa
from flask import Flask, current_app, request
from markupsafe import Markup

from erlen_db import get_session

from . import notices
from .state import state_of
from .totp_models import RecoveryCode, TotpCredential

if t.TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

    from .models import User

# pyotp and cryptography are imported by the functions that use them: every process of an app imports this
# module, and most requests never see a second factor.

logger = logging.getLogger("erlen_auth.totp")

#: How many recovery codes a user is given.
RECOVERY_CODE_COUNT = 10

#: The letters of recovery codes (RFC 4648 base32, lower case: no 0, 1, 8 or 9 to mistake for letters).
_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"

#: Characters per recovery code: 12 of 32 letters, 60 bits.
_RECOVERY_LENGTH = 12

#: How many time steps before and after the current one a code is accepted in (clock drift).
VALID_WINDOW = 1

#: The seconds of a time step (RFC 6238's default, which every authenticator app uses).
STEP_SECONDS = 30

#: The digits of a code.
DIGITS = 6


def _secret_keys(app: Flask) -> list[bytes]:
    """``SECRET_KEY`` then ``SECRET_KEY_FALLBACKS``, as bytes.

    :raises RuntimeError: ``SECRET_KEY`` is not set.
    """
    keys = [app.config.get("SECRET_KEY"), *(app.config.get("SECRET_KEY_FALLBACKS") or ())]
    found = [key.encode() if isinstance(key, str) else bytes(key) for key in keys if key]
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is not set: two-factor secrets are encrypted with a key derived from it.")
    return found


def _derive(key: bytes, purpose: bytes) -> bytes:
    """A 32-byte key for ``purpose`` derived from ``key`` (HKDF-SHA256): one secret, independent keys per use."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"erlen-auth " + purpose).derive(key)


def _fernet() -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet

    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(_derive(key, b"totp secret"))) for key in _secret_keys(current_app)]
    )


def encrypt_secret(secret: str) -> str:
    """``secret`` encrypted under the current ``SECRET_KEY`` (a Fernet token, ASCII)."""
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str | None:
    """The secret in ``token``, or ``None`` when no key of ``SECRET_KEY`` and its fallbacks opens it (logged)."""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        logger.error(
            "A TOTP secret cannot be decrypted with SECRET_KEY or SECRET_KEY_FALLBACKS: was SECRET_KEY changed "
            "without keeping the old one in SECRET_KEY_FALLBACKS? The user can log in with a recovery code, or "
            "reset their second factor with `erlen user two-factor reset EMAIL`."
        )
        return None


def _now() -> float:
    return state_of().clock()


def credential_of(user: User, *, confirmed: bool | None = True) -> TotpCredential | None:
    """The TOTP row of ``user``: only a confirmed one by default, only one being set up with ``confirmed=False``.

    :param confirmed: ``True`` for a confirmed row, ``False`` for one being set up, ``None`` for either.
    """
    found = get_session().get(TotpCredential, user.id)
    if found is None or confirmed is None or (found.confirmed_at is not None) == confirmed:
        return found
    return None


def is_enrolled(user: User) -> bool:
    """Whether ``user`` has a confirmed TOTP authenticator (the :class:`~erlen_auth.state.SecondFactor` check)."""
    if user.id is None:
        return False
    return bool(
        get_session().scalar(
            sa.select(sa.literal(True)).where(
                TotpCredential.user_id == user.id, TotpCredential.confirmed_at.is_not(None)
            )
        )
    )


def start_enrolment(user: User) -> str:
    """The secret of an enrolment of ``user`` under way, made (and committed) when there is none.

    A page reload shows the same secret, so a user who scanned it and reloads
    can still confirm. Only while no confirmed authenticator exists.

    :raises ValueError: ``user`` has a confirmed authenticator already.
    """
    import pyotp

    db = get_session()
    found = db.get(TotpCredential, user.id)
    if found is not None and found.confirmed_at is not None:
        raise ValueError("Two-factor authentication is on already: turn it off before setting up another.")
    if found is not None:
        secret = decrypt_secret(found.secret)
        if secret is not None:
            return secret
        db.delete(found)
        db.flush()
    secret = pyotp.random_base32()  # 32 letters, 160 bits: RFC 4226's recommended length
    db.add(TotpCredential(user_id=user.id, secret=encrypt_secret(secret)))
    try:
        db.commit()
    except sa.exc.IntegrityError:
        # The same page opened twice at once: the other request's secret is the one to show.
        db.rollback()
        found = db.get(TotpCredential, user.id)
        opened = decrypt_secret(found.secret) if found is not None and found.confirmed_at is None else None
        if opened is None:
            raise
        return opened
    return secret


def issuer() -> str:
    """The name authenticator apps show for the app: ``AUTH_TWO_FACTOR_ISSUER``, else the site's name
    (``SITE_NAME``), else the request's host name."""
    configured = current_app.config.get("AUTH_TWO_FACTOR_ISSUER") or current_app.config.get("SITE_NAME")
    return str(configured) if configured else (request.host.split(":", 1)[0] or "Erlen")


def provisioning_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    import pyotp

    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=issuer()
    )


def qr_svg(uri: str) -> Markup:
    """``uri`` as a QR code in inline SVG, made here (segno): the secret goes to no other service.

    Black on its own white, with the quiet zone of 4 modules the QR standard asks for: scanners need that light
    margin, which a transparent code lacks on a dark page (the dark colour scheme). With a ``viewBox`` beside
    its size, the code shrinks whole into a column narrower than it (a phone's), rather than being cut.
    """
    import segno

    code = segno.make(uri, error="m")
    scale, border = 5, 4
    svg = code.svg_inline(
        scale=scale,
        border=border,
        dark="#000",
        light="#fff",
        title="QR code of your two-factor secret",
        svgclass="erlen-auth-qr-code",
    )
    width, height = code.symbol_size(scale=scale, border=border)
    svg = svg.replace("<svg ", f'<svg viewBox="0 0 {width} {height}" ', 1)
    return Markup(svg)  # segno's own markup, the uri escaped in it


def format_secret(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _normalise_totp(code: str) -> str | None:
    code = "".join(code.split())
    return code if len(code) == DIGITS and code.isascii() and code.isdigit() else None


def looks_like_totp(code: str) -> bool:
    """Whether ``code`` has the shape of a TOTP code (six digits, blanks aside) rather than of a recovery code."""
    return _normalise_totp(code) is not None


def _matching_step(secret: str, code: str, after: int | None) -> int | None:
    """The time step, within :data:`VALID_WINDOW` of now and later than ``after``, whose code is ``code``."""
    import pyotp

    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    now = _now()
    current = totp.timecode(dt.datetime.fromtimestamp(now, dt.UTC))
    found = None
    # Every step of the window is compared (no early exit), in constant time each.
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        step = current + offset
        if hmac.compare_digest(totp.generate_otp(step), code) and (after is None or step > after):
            found = step
    return found


def verify_enrolment(user: User, code: str) -> list[str] | None:
    """Confirm the enrolment of ``user`` under way with a ``code`` of its secret; commits when right.

    Turns two-factor sign-in on: the row is confirmed and its step recorded
    (so the code cannot be used again to sign in), the ``two_factor_enabled``
    notice is queued and recovery codes are made, all in one transaction.

    :returns: the new recovery codes, to show once; ``None`` for a wrong code (or no enrolment under way).
    """
    found = credential_of(user, confirmed=False)
    normalised = _normalise_totp(code)
    if found is None or normalised is None:
        return None
    secret = decrypt_secret(found.secret)
    step = _matching_step(secret, normalised, None) if secret is not None else None
    if step is None:
        return None
    db = get_session()
    confirmed = db.execute(
        sa.update(TotpCredential)
        .where(TotpCredential.user_id == user.id, TotpCredential.confirmed_at.is_(None))
        .values(confirmed_at=dt.datetime.now(dt.UTC), last_used_step=step),
        execution_options={"synchronize_session": False},
    )
    if confirmed.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        return None
    db.expire(found)
    codes = _replace_recovery_codes(user)
    notices.notify(user, "two_factor_enabled", remaining=len(codes))
    db.commit()
    return codes


def use_code(user: User, code: str) -> bool:
    """Whether ``code`` is a current code of the confirmed authenticator of ``user`` not used before; commits.

    The code's step is recorded in an ``UPDATE`` that only matches when it is
    later than the last used one: a code replayed, even by two requests at
    once, is accepted once.
    """
    normalised = _normalise_totp(code)
    found = credential_of(user)
    if found is None or normalised is None:
        return False
    secret = decrypt_secret(found.secret)
    if secret is None:
        return False
    step = _matching_step(secret, normalised, found.last_used_step)
    if step is None:
        return False
    db = get_session()
    used = db.execute(
        sa.update(TotpCredential)
        .where(
            TotpCredential.user_id == user.id,
            TotpCredential.confirmed_at.is_not(None),
            sa.or_(TotpCredential.last_used_step.is_(None), TotpCredential.last_used_step < step),
        )
        # Re-encrypted under the current SECRET_KEY: a secret made under a fallback key moves off it.
        .values(last_used_step=step, secret=encrypt_secret(secret)),
        execution_options={"synchronize_session": False},
    )
    db.commit()
    db.expire(found)
    return bool(used.rowcount == 1)  # type: ignore[attr-defined]


# Recovery codes


def _new_recovery_code() -> str:
    letters = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(letters[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


def _normalise_recovery(code: str) -> str | None:
    code = "".join(code.split()).replace("-", "").lower()
    if len(code) != _RECOVERY_LENGTH or any(letter not in _RECOVERY_ALPHABET for letter in code):
        return None
    return code


def _recovery_hashes(code: str) -> list[str]:
    """The hashes ``code`` may be stored under: keyed with ``SECRET_KEY``, then with each fallback."""
    return [
        hmac.new(_derive(key, b"recovery code"), code.encode(), hashlib.sha256).hexdigest()
        for key in _secret_keys(current_app)
    ]


def _replace_recovery_codes(user: User) -> list[str]:
    """Delete the recovery codes of ``user`` and add :data:`RECOVERY_CODE_COUNT` new ones (not committed)."""
    db = get_session()
    db.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    for code in codes:
        normalised = t.cast(str, _normalise_recovery(code))
        db.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hashes(normalised)[0]))
    db.flush()
    return codes


def regenerate_recovery_codes(user: User) -> list[str]:
    """New recovery codes for ``user`` (the old ones stop working), with the notice; commits.

    :returns: the codes, to show once: only their hashes are kept.
    """
    codes = _replace_recovery_codes(user)
    notices.notify(user, "recovery_codes_regenerated", remaining=len(codes))
    get_session().commit()
    return codes


def remaining_recovery_codes(user: User) -> int:
    """How many unused recovery codes ``user`` has."""
    return int(
        get_session().scalar(
            sa.select(sa.func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def use_recovery_code(user: User, code: str) -> bool:
    """Whether ``code`` is an unused recovery code of ``user``; it is then used up, with a notice; commits."""
    normalised = _normalise_recovery(code)
    if normalised is None:
        return False
    db = get_session()
    found = db.scalar(
        sa.select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.used_at.is_(None),
            RecoveryCode.code_hash.in_(_recovery_hashes(normalised)),
        )
    )
    if found is None:
        return False
    used = db.execute(
        sa.update(RecoveryCode)
        .where(RecoveryCode.id == found, RecoveryCode.used_at.is_(None))
        .values(used_at=dt.datetime.now(dt.UTC)),
        execution_options={"synchronize_session": False},
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()  # another request used it a moment ago
        return False
    notices.notify(user, "recovery_code_used", remaining=remaining_recovery_codes(user))
    db.commit()
    return True


def disable(user: User, *, reason: str = "user") -> bool:
    """Turn TOTP off for ``user``: the secret and the recovery codes are deleted, with the notice; commits.

    :param reason: ``"user"`` (they did it) or ``"reset"`` (an administrator did); the notice says which.
    :returns: whether there was a confirmed authenticator to turn off.
    """
    db = get_session()
    had = is_enrolled(user)
    db.execute(sa.delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    if had:
        notices.notify(user, "two_factor_disabled", reason=reason)
    db.commit()
    return had
