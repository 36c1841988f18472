"""Personal access tokens: credentials for scripts (and erlen-api), sent as ``Authorization: Bearer <token>``.

A token looks like ``erlen_pat_<public id>_<secret>``: the fixed prefix lets
secret scanners find leaked ones (:data:`TOKEN_PATTERN`), the public id (12
hex digits) finds the row in one indexed query and is shown in lists, and
the secret (32 random bytes, 64 hex digits) is checked against the SHA-256
the table keeps (``auth_access_token.secret_hash``) with a constant-time
comparison. The token itself is shown once, when it is made, and stored
nowhere.

A token has scopes: permission names, a subset of what its user could do
when it was made. A request authenticated by a token may do what the scopes
*and* the user's current permissions both allow (a role taken away takes
the power from existing tokens too); tokens of an inactive user, expired
tokens and revoked ones do not work. Revoking keeps the row (``revoked_at``),
so the list still tells what existed, when it was last used and from where.

Only views marked with :func:`token_auth` accept tokens; on every other
route an ``Authorization: Bearer`` header is ignored. A token request makes
no log-in session and sets no cookie, and is exempt from CSRF checks (the
browser never adds such a header by itself); requests with cookies on the
same routes are checked as usual.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
import re
import secrets
import typing as t
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import unquote

import sqlalchemy as sa
from flask import (
    Flask,
    Request,
    Response,
    abort,
    after_this_request,
    current_app,
    g,
    has_request_context,
    jsonify,
    request,
)
from flask_login import current_user
from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

import erlen
from erlen_db import Model, get_session

from .errors import AuthError
from .feature_settings import ACCESS_TOKEN_SETTINGS
from .models import _LOGIN, ADDRESS_MAX_LENGTH, User
from .permissions import REQUIRED_ATTRIBUTE, permissions_of
from .sessions import commit_bookkeeping, record_later, utc
from .state import TOKEN_USER_KEY

F = t.TypeVar("F", bound=Callable[..., t.Any])

logger = logging.getLogger(__name__)

#: What every token starts with; secret scanners look for it.
TOKEN_PREFIX = "erlen_pat_"
#: The number of hex digits of a token's public id.
PUBLIC_ID_LENGTH = 12
#: The number of random bytes of a token's secret (written as twice as many hex digits).
SECRET_BYTES = 32
#: A whole token, for secret scanners and log filters: ``erlen_pat_[0-9a-f]{12}_[0-9a-f]{64}``.
TOKEN_PATTERN = re.compile(rf"{TOKEN_PREFIX}([0-9a-f]{{{PUBLIC_ID_LENGTH}}})_([0-9a-f]{{{SECRET_BYTES * 2}}})")
#: The longest token name the table stores.
NAME_MAX_LENGTH = 80
#: The query-string or form field some clients put tokens in; refused on token routes (see :func:`token_auth`).
URL_PARAMETER = "access_token"

#: The attribute of a view function that accepts tokens (set by :func:`token_auth`).
ACCEPTS_TOKENS_ATTRIBUTE = "_erlen_auth_accepts_tokens"


#: Declared in :mod:`erlen_auth.feature_settings` (importable without this module's libraries).
SETTINGS = ACCESS_TOKEN_SETTINGS


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AccessToken(Model):
    """A personal access token of a user. Only the SHA-256 of its secret is stored.

    Revoked tokens keep their row (``revoked_at`` is set), for the record;
    deleting the user deletes their tokens.
    """

    __tablename__ = "auth_access_token"
    # Ids are never reused on SQLite either: a revoke button left open must not revoke a newer token.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), index=True)
    #: What the user called it ("deploy script").
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    #: The public part of the token, which finds the row: 12 hex digits.
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), unique=True)
    #: The SHA-256 of the secret, in hexadecimal.
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: The permission names the token may use (with the user's current permissions), sorted.
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    #: When it stops working; ``None``: never.
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    #: When it was last used, to within ``AUTH_LAST_SEEN_INTERVAL`` seconds, and from which address.
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_used_address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX_LENGTH), default=None)
    #: When it was revoked; ``None`` while it is not.
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    @property
    def display_prefix(self) -> str:
        """The token's public beginning, ``erlen_pat_<public id>``, which lists show to tell tokens apart."""
        return f"{TOKEN_PREFIX}{self.public_id}"

    def status(self, now: dt.datetime | None = None) -> t.Literal["active", "expired", "revoked"]:
        """``revoked``, ``expired`` or ``active`` (the user being inactive is not considered).

        :param now: the time to judge at; now by default.
        """
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and utc(self.expires_at) <= (now or _utcnow()):
            return "expired"
        return "active"

    def __repr__(self) -> str:
        return f"<AccessToken {self.id} {self.display_prefix} of user {self.user_id}>"


MODELS: tuple[type[Model], ...] = (AccessToken,)


class InvalidTokenError(AuthError):
    """A bearer token that does not authenticate: malformed, unknown, wrong, expired, revoked or of an inactive user.

    :param description: what to tell the client (never whether another user's token exists).
    """

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class ScopeError(ValueError):
    """A token was asked for permissions its user does not have (or nobody declares).

    :param scopes: the names refused.
    """

    def __init__(self, scopes: Iterable[str]) -> None:
        self.scopes = sorted(scopes)
        super().__init__(
            "A token can only be given permissions its user has: "
            + ", ".join(repr(name) for name in self.scopes)
            + " cannot be granted."
        )


@dataclass(frozen=True)
class NewToken:
    """A token just made: the row, and the whole token, which is shown once and stored nowhere.

    :param row: the :class:`AccessToken` (flushed, not committed).
    :param token: ``erlen_pat_<public id>_<secret>``, to hand to its user now.
    """

    row: AccessToken
    token: str


@dataclass(frozen=True)
class TokenUser:
    """The user a request's bearer token authenticates, and that token.

    While the request lasts, ``user.can()`` (and so ``permission_required``)
    allows only what the token's scopes and the user's current permissions
    both allow.

    :param user: the token's user (active).
    :param token: the token's row.
    :param scopes: the scopes the token was given (whatever the user can do now).
    """

    user: User
    token: AccessToken
    scopes: frozenset[str]

    def can(self, permission: str) -> bool:
        """Whether the request may use ``permission``: the token has the scope and the user the permission now.

        :raises UnknownPermissionError: no enabled plugin declares the permission.
        """
        return permission in self.scopes and _user_can(self.user, permission)

    @property
    def permissions(self) -> frozenset[str]:
        """The permissions the token gives now: its scopes that the user still has."""
        return frozenset(name for name in self.scopes if name in permissions_of() and _user_can(self.user, name))


def _user_can(user: User, permission: str) -> bool:
    """Whether ``user`` has ``permission`` by their account alone, whatever token the request came with."""
    return bool(user.is_active and (user.is_superuser or permission in user.permissions))


def hash_secret(secret: str) -> str:
    """The SHA-256 of a token's secret in hexadecimal, as ``auth_access_token.secret_hash`` stores it.

    A fast hash is enough: the secret is 32 random bytes, so there is nothing to guess from the hash.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


#: Compared against when no row matches, so an unknown id costs what a wrong secret does.
_NO_HASH = hash_secret("")


def parse(token: str) -> tuple[str, str] | None:
    """The public id and the secret of ``token``, or ``None`` when it is no token of this format."""
    found = TOKEN_PATTERN.fullmatch(token)
    return (found.group(1), found.group(2)) if found else None


# -- making, listing, revoking -----------------------------------------------------------------------------------


def grantable_scopes(user: User) -> list[str]:
    """The declared permissions ``user`` may give a token: every one for a superuser, else their roles' (sorted)."""
    return [name for name in permissions_of() if _user_can(user, name)]


def expiry_limits(config: t.Mapping[str, t.Any] | None = None) -> tuple[int, int | None]:
    """``(AUTH_ACCESS_TOKEN_DEFAULT_DAYS, AUTH_ACCESS_TOKEN_MAX_DAYS)`` of the app (or ``config``)."""
    config = current_app.config if config is None else config
    return int(config["AUTH_ACCESS_TOKEN_DEFAULT_DAYS"]), config["AUTH_ACCESS_TOKEN_MAX_DAYS"]


def check_expiry(days: int | None) -> None:
    """Refuse a token life the settings do not allow.

    :param days: how many days the token is valid for; ``None``: it never expires.
    :raises ValueError: naming the setting that forbids it.
    """
    _, most = expiry_limits()
    if days is None:
        if most is not None:
            raise ValueError(
                f"Tokens must expire: AUTH_ACCESS_TOKEN_MAX_DAYS is {most}. Choose at most {most} days "
                "(or unset AUTH_ACCESS_TOKEN_MAX_DAYS to allow tokens that never expire)."
            )
        return
    if days < 1:
        raise ValueError("A token must be valid for at least 1 day.")
    if most is not None and days > most:
        raise ValueError(f"A token may be valid for at most {most} days (AUTH_ACCESS_TOKEN_MAX_DAYS).")


def create(
    user: User,
    *,
    name: str,
    scopes: Iterable[str],
    expires_days: int | None,
    db: Session | None = None,
) -> NewToken:
    """Make a personal access token for ``user`` and queue the ``token_created`` notice (not committed).

    :param user: whose token; it authenticates as them.
    :param name: what it is for, shown in lists (1 to :data:`NAME_MAX_LENGTH` characters).
    :param scopes: the permission names it may use; each must be one ``user`` has now
        (see :func:`grantable_scopes`). May be empty: the token then identifies the user and allows
        no permission.
    :param expires_days: days it is valid for; ``None``: never (only when ``AUTH_ACCESS_TOKEN_MAX_DAYS`` is unset).
    :param db: the session to add it to; the request's by default. The caller commits.
    :returns: the row and the token, to show once.
    :raises ScopeError: a scope the user does not have.
    :raises ValueError: an empty or overlong name, or an expiry the settings forbid.
    """
    from . import notices

    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ValueError(f"A token's name must have 1 to {NAME_MAX_LENGTH} characters.")
    wanted = set(scopes)
    refused = wanted - set(grantable_scopes(user))
    if refused:
        raise ScopeError(refused)
    check_expiry(expires_days)
    db = get_session() if db is None else db
    public_id, secret = secrets.token_hex(PUBLIC_ID_LENGTH // 2), secrets.token_hex(SECRET_BYTES)
    now = _utcnow()
    row = AccessToken(
        user_id=user.id,
        name=name,
        public_id=public_id,
        secret_hash=hash_secret(secret),
        scopes=sorted(wanted),
        created_at=now,
        expires_at=None if expires_days is None else now + dt.timedelta(days=expires_days),
    )
    db.add(row)
    db.flush()
    notices.notify(user, "token_created", token=row, db=db)  # in the token's transaction
    return NewToken(row=row, token=f"{TOKEN_PREFIX}{public_id}_{secret}")


def tokens_of(user: User, db: Session | None = None) -> list[AccessToken]:
    """Every token of ``user``, revoked and expired ones too, the newest first."""
    db = get_session() if db is None else db
    statement = sa.select(AccessToken).where(AccessToken.user_id == user.id).order_by(AccessToken.id.desc())
    return list(db.scalars(statement))


def revoke(token_id: int, *, user_id: int | None = None, db: Session | None = None) -> AccessToken | None:
    """Revoke a token (not committed): it stops working at once; its row stays, for the record.

    :param token_id: the token's id.
    :param user_id: revoke it only if it is this user's (a page acting for its user).
    :param db: the session; the request's by default.
    :returns: the token, or ``None`` when there is no such token (of that user) or it was revoked already.
    """
    db = get_session() if db is None else db
    row = db.get(AccessToken, token_id)
    if row is None or (user_id is not None and row.user_id != user_id) or row.revoked_at is not None:
        return None
    row.revoked_at = _utcnow()
    db.flush()
    return row


# -- authenticating requests -------------------------------------------------------------------------------------


def bearer_credentials(req: Request | None = None) -> str | None:
    """The credentials of the request's ``Authorization: Bearer`` header (``""`` when empty), else ``None``.

    The scheme is matched without regard to case (RFC 7235); any other scheme, or no header, gives ``None``.
    """
    header = (req or request).headers.get("Authorization", "")
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()


def carries_bearer() -> bool:
    """Whether the current request has an ``Authorization: Bearer`` header (the CSRF exemption's condition)."""
    return bearer_credentials() is not None


#: The token of a public id with its user, in one statement built once (a statement used again keeps its SQL cache key).
_BY_PUBLIC_ID = (
    sa.select(AccessToken, User)
    .join(User, User.id == AccessToken.user_id)
    .where(AccessToken.public_id == sa.bindparam("public_id", type_=AccessToken.public_id.type))
    .execution_options(autoflush=False)
)


def authenticate_bearer(req: Request | None = None) -> TokenUser | None:
    """Authenticate the request by its ``Authorization: Bearer`` header; the API erlen-api builds on.

    One indexed query finds the token and its user; the secret is compared
    in constant time. On success the token's last use is recorded (at most
    every ``AUTH_LAST_SEEN_INTERVAL`` seconds) and, for the rest of the
    request, ``user.can()`` honours the token's scopes. Nobody is logged
    in: call :func:`use_token_user` to make the user ``current_user``
    (:func:`token_auth` does both).

    :param req: the request; the current one by default.
    :returns: the token's user, or ``None`` when the request has no Bearer header.
    :raises InvalidTokenError: a Bearer header whose token does not authenticate.
    """
    credentials = bearer_credentials(req)
    if credentials is None:
        return None
    parsed = parse(credentials)
    if parsed is None:
        raise InvalidTokenError("The access token is malformed.")
    public_id, secret = parsed
    db = get_session()
    began = db.in_transaction()
    found = db.execute(_BY_PUBLIC_ID, {"public_id": public_id}).first()
    expected = found[0].secret_hash if found is not None else _NO_HASH
    # Constant time: how much of the secret matched must not show in the answer's timing.
    matches = hmac.compare_digest(hash_secret(secret).encode(), expected.encode())
    if found is None or not matches:
        raise InvalidTokenError("The access token is not valid.")
    token, user = found
    now = _utcnow()
    state = token.status(now)
    if state == "revoked":
        raise InvalidTokenError("The access token was revoked.")
    if state == "expired":
        raise InvalidTokenError("The access token has expired.")
    if not user.is_active:
        raise InvalidTokenError("The access token is not valid.")
    _note_use(db, token, now, began=began)
    scopes = frozenset(token.scopes or ())
    user.restrict_to_token_scopes(scopes)
    # The request's session may hold this user already, loaded from a cookie with its log-in session attached:
    # a token request has no log-in session (so no re-authentication either).
    sa.inspect(user).info.pop(_LOGIN, None)
    if has_request_context():
        setattr(g, TOKEN_USER_KEY, user)  # lifted when the request ends (state.lift_token_restriction)
    return TokenUser(user=user, token=token, scopes=scopes)


def use_token_user(found: TokenUser) -> None:
    """Make ``found.user`` the request's ``current_user``, without a log-in session or a cookie."""
    current_app.login_manager._update_request_context_with_user(found.user)  # type: ignore[attr-defined]


def _note_use(db: Session, token: AccessToken, now: dt.datetime, *, began: bool) -> None:
    """Record the token's use when the last record is ``AUTH_LAST_SEEN_INTERVAL`` seconds old, as sessions do."""
    from erlen_db import database_of

    from .accounts import client_address

    interval = dt.timedelta(seconds=current_app.config["AUTH_LAST_SEEN_INTERVAL"])
    if token.last_used_at is not None and now - utc(token.last_used_at) < interval:
        return
    address = client_address() if has_request_context() else None
    address = address[:ADDRESS_MAX_LENGTH] if address else None
    values = {"last_used_at": now, "last_used_address": address}
    if not (began or db.new or db.dirty or db.deleted):
        # The request's session held nothing before the look-up: the write and its commit take nothing with them.
        _record_use(db, token.id, values)
        token.last_used_at, token.last_used_address = now, address
    elif has_request_context():
        token_id = token.id  # now: once the view has committed, reading it would load the token again
        after_this_request(record_later(database_of(current_app), lambda db: _record_use(db, token_id, values)))


def _record_use(db: Session, token_id: int, values: dict[str, t.Any]) -> None:
    """Write the token's last use and commit; a failure is logged and the request goes on (it is bookkeeping)."""
    statement = sa.update(AccessToken).where(AccessToken.id == token_id).values(**values)
    commit_bookkeeping(db, statement, f"access token {token_id}")


# -- the decorator -----------------------------------------------------------------------------------------------


def _challenge(error: str | None = None, description: str | None = None, scope: Iterable[str] = ()) -> str:
    """A ``WWW-Authenticate: Bearer`` challenge (RFC 6750, section 3)."""
    parts = [f'realm="{_quoted(current_app.name)}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_quoted(description)}"')
    names = " ".join(scope)
    if names:
        parts.append(f'scope="{names}"')
    return "Bearer " + ", ".join(parts)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _refusal(status: int, error: str, message: str, scope: Iterable[str] = ()) -> Response:
    names = tuple(scope)
    body: dict[str, t.Any] = {"error": error, "message": message}
    if names:
        body["scope"] = " ".join(names)
    response = jsonify(body)
    response.status_code = status
    response.headers["WWW-Authenticate"] = _challenge(error, message, names)
    response.headers["Cache-Control"] = "no-store"
    return response


def token_in_url(req: Request | None = None) -> bool:
    """Whether the request carries an access token (or an ``access_token`` field) in its URL or its form."""
    req = req or request
    if URL_PARAMETER in req.args or TOKEN_PREFIX in unquote(req.query_string.decode("latin-1")):
        return True
    if TOKEN_PREFIX in req.path:
        return True
    return req.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and URL_PARAMETER in req.form


def token_auth(*, scopes: Iterable[str] = (), any_of: bool = False) -> Callable[[F], F]:
    """Let a view be used with a personal access token too; put it below the route decorator.

    A request with ``Authorization: Bearer <token>`` is authenticated by the
    token alone, as the token's user (``current_user``), with what the
    token's scopes and the user's current permissions both allow; no log-in
    session or cookie is made, and CSRF checks do not apply to it. A bad,
    expired or revoked token gets a 401, missing ``scopes`` a 403, each with
    the ``WWW-Authenticate: Bearer`` challenge of RFC 6750 and a JSON body.
    A request without the header is a browser's: it needs a log-in (as
    :func:`erlen_auth.login_required`), the permissions ``scopes`` and, to
    change anything, a CSRF token. A token in the URL or in a form field is
    never accepted: such a request gets a 400 (the token may now be in logs:
    revoke it).

    .. code-block:: python

        @bp.post("/api/posts/<int:id>/publish")
        @token_auth(scopes=["blog.publish"])
        def publish(id): ...

    On these views check permissions with ``current_user.can()`` or
    :func:`erlen_auth.permission_required`, which honour the token's scopes,
    not with ``is_superuser``.

    :param scopes: permissions the view requires (all of them by default); names nobody declares
        stop the app at startup.
    :param any_of: one of ``scopes`` is enough.
    :raises TypeError: ``scopes`` is a single string.
    """
    if isinstance(scopes, str):
        raise TypeError(f"token_auth(scopes=...) takes a list of permission names, such as [{scopes!r}].")
    required = tuple(scopes)
    check = any if any_of else all

    def decorate(view: F) -> F:
        from erlen_forms import csrf_exempt

        @functools.wraps(view)
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            if token_in_url():
                return _refusal(
                    400,
                    "invalid_request",
                    "Send the access token in the Authorization header (Authorization: Bearer <token>), never in "
                    "the URL or a form field. A token sent in a URL may be kept in logs: revoke it and make another.",
                )
            try:
                found = authenticate_bearer()
            except InvalidTokenError as exc:
                return _refusal(401, "invalid_token", exc.description)
            if found is None:
                if not current_user.is_authenticated:
                    response = current_app.make_response(current_app.login_manager.unauthorized())  # type: ignore[attr-defined]
                    if response.status_code == 401:
                        response.headers["WWW-Authenticate"] = _challenge()
                    return response
                if required and not check(current_user.can(name) for name in required):
                    abort(403)
                return view(*args, **kwargs)
            use_token_user(found)
            if required and not check(found.user.can(name) for name in required):
                return _refusal(
                    403,
                    "insufficient_scope",
                    "The access token does not allow this: it needs "
                    + (" or " if any_of else " and ").join(required)
                    + " (a scope of the token that its user still has).",
                    required,
                )
            return view(*args, **kwargs)

        setattr(wrapper, REQUIRED_ATTRIBUTE, (*getattr(view, REQUIRED_ATTRIBUTE, ()), *required))
        setattr(wrapper, ACCEPTS_TOKENS_ATTRIBUTE, True)
        exempt = csrf_exempt(
            reason="requests with an Authorization: Bearer header are authenticated by the access token alone",
            when=carries_bearer,
        )
        return t.cast(F, exempt(wrapper))

    return decorate


def accepts_tokens(view: Callable[..., t.Any]) -> bool:
    """Whether ``view`` was marked with :func:`token_auth`."""
    return bool(getattr(view, ACCEPTS_TOKENS_ATTRIBUTE, False))


def init(app: Flask) -> None:
    """Check the settings and add the security page's section.

    The restriction a token puts on its user is lifted when the request ends by
    :func:`erlen_auth.state.lift_token_restriction`, registered when the app is created.

    :raises erlen.SettingError: ``AUTH_ACCESS_TOKEN_DEFAULT_DAYS`` is more than ``AUTH_ACCESS_TOKEN_MAX_DAYS``.
    """
    from . import security_page
    from .state import SecuritySection

    default, most = expiry_limits(app.config)
    if most is not None and default > most:
        raise erlen.SettingError(
            f"AUTH_ACCESS_TOKEN_DEFAULT_DAYS ({default}) is more than AUTH_ACCESS_TOKEN_MAX_DAYS ({most}): "
            "lower the default or raise the maximum.",
            key="AUTH_ACCESS_TOKEN_DEFAULT_DAYS",
            plugin="auth",
        )
    security_page.add(app, SecuritySection("auth/access_tokens/section.html", 70, "Access tokens"))
    app.add_template_global(tokens_of, "access_tokens_of")
