"""The tables of the auth plugin: users, roles, the permissions of roles and log-in sessions.

Every table name starts with ``auth_``. Apps add fields of their own in a
table of their own that refers to ``auth_user.id`` (a profile), filled in
from the ``erlen_auth_user_registered`` hook; see the README.
"""

from __future__ import annotations

import datetime as dt
import operator
import secrets
import typing as t
import unicodedata

from flask import has_app_context
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, delete, event, func, inspect, select
from sqlalchemy.orm import InstanceState, Mapped, contains_eager, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import object_state

from erlen_db import Model, database_of

# Defined apart (the plugin needs it without SQLAlchemy), importable from here as before.
from .anonymous import AnonymousUser as AnonymousUser

#: The longest email address the ``auth_user`` table stores (RFC 5321 limits a path to 254 characters).
EMAIL_MAX_LENGTH = 254

#: The longest role name the ``auth_role`` table stores.
ROLE_NAME_MAX_LENGTH = 80

#: The longest user agent the ``auth_session`` table keeps (longer ones are cut).
USER_AGENT_MAX_LENGTH = 255

#: The longest client address the ``auth_session`` table keeps (an IPv6 address with a zone fits).
ADDRESS_MAX_LENGTH = 64

#: Where a role keeps its cached permission set, and a user the union of their roles' sets (see ``can``).
_ROLE_PERMISSIONS = "_erlen_auth_permissions"
_USER_PERMISSIONS = "_erlen_auth_permissions"

#: The key of a user's ``InstanceState.info`` holding the log-in session of the request, and its key.
_LOGIN = "erlen_auth_login"

#: The key of a user's ``InstanceState.info`` holding the scopes of the access token the request came with.
_TOKEN_SCOPES = "erlen_auth_token_scopes"


def new_session_token() -> str:
    """A new random per-user session token."""
    return secrets.token_urlsafe(32)


def email_key(email: str) -> str:
    """The form of ``email`` that uniqueness and look-ups use: compatibility-normalised, stripped, lower-cased.

    Addresses that read the same are one account: ``Ada@example.com`` typed in full-width letters
    (as East Asian keyboards may) and in ASCII have the key ``ada@example.com``, as do spellings with
    a ligature or a decomposed accent. The steps are those of RFC 8265's case-mapped usernames (width and
    compatibility mapping, lower case, then normalisation again), with NFKC throughout.

    :param email: an address as a person typed it.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).strip().lower())


def email_key_problem(email: str) -> str | None:
    """Why ``email``'s key could not be stored, or ``None`` when it fits.

    NFKC expands some characters (U+FDFA into 18), so a valid address of a few dozen characters can
    have a key longer than the :data:`EMAIL_MAX_LENGTH` characters of the ``email_key`` column, which
    PostgreSQL refuses to store. Forms and commands that take a new address check it with this.

    :param email: an address as a person typed it.
    """
    if len(email_key(email)) <= EMAIL_MAX_LENGTH:
        return None
    return (
        f"This address is too long once normalised (its key would have more than {EMAIL_MAX_LENGTH} "
        "characters): use a shorter address."
    )


def waits_for_the_session(user: User, state: InstanceState[User]) -> bool:
    """Whether the detached ``user`` is the user loader's, waiting for the request's session with its columns loaded
    (:meth:`erlen_db.Database.adopt`): reading an attribute not loaded makes the session, which adopts it.

    :param user: a user.
    :param state: its state.
    """
    return state.detached and has_app_context() and database_of().adopted().get(state.key) is user


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UserRole(Model):
    """A role given to a user."""

    __tablename__ = "auth_user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("auth_role.id", ondelete="CASCADE"), primary_key=True)


class RolePermission(Model):
    """A permission granted to a role."""

    __tablename__ = "auth_role_permission"

    role_id: Mapped[int] = mapped_column(ForeignKey("auth_role.id", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(120), primary_key=True)


class Role(Model):
    """A named group of permissions."""

    __tablename__ = "auth_role"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(ROLE_NAME_MAX_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    grants: Mapped[list[RolePermission]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def permissions(self) -> frozenset[str]:
        """The names of the permissions the role grants.

        Computed once and kept until :attr:`grants` changes (or is reloaded):
        the same set object is returned meanwhile, which :attr:`User.permissions`
        relies on to know its own cache is current.
        """
        cached: frozenset[str] | None = self.__dict__.get(_ROLE_PERMISSIONS)
        if cached is None:
            cached = frozenset(grant.permission for grant in self.grants)
            self.__dict__[_ROLE_PERMISSIONS] = cached
        return cached

    def _forget_permissions(self) -> None:
        self.__dict__.pop(_ROLE_PERMISSIONS, None)

    def grant(self, permission: str) -> None:
        """Grant ``permission`` to the role (no check that it is known: see :func:`erlen_auth.grant`).

        :raises erlen_auth.AuthError: the role was loaded by a session that has closed: no commit would save it.
        """
        self._refuse_detached("grant")
        if permission not in self.permissions:
            self.grants.append(RolePermission(permission=permission))

    def revoke(self, permission: str) -> None:
        """Take ``permission`` away from the role.

        :raises erlen_auth.AuthError: the role was loaded by a session that has closed: no commit would save it.
        """
        self._refuse_detached("revoke")
        self.grants[:] = [grant for grant in self.grants if grant.permission != permission]

    def _refuse_detached(self, verb: str) -> None:
        # A role loaded by a session that has closed (erlen_auth.testing.make_user's, say) takes the change in
        # memory, and no session's commit writes it: refused, not lost without a word.
        if inspect(self).detached:
            from .errors import AuthError

            raise AuthError(
                f"Cannot {verb} a permission of the role {self.name!r}: it was loaded by a database session that "
                "has closed, so no commit would save the change. Load the role in the session you commit first "
                "(session.merge(role), or session.scalar(select(Role).where(Role.name == ...)))."
            )

    def __repr__(self) -> str:
        return f"<Role {self.name!r}>"


class User(Model):
    """An account.

    Flask-Login's protocol is implemented here: :meth:`get_id` returns the key
    of the user's log-in session in this request (a :class:`LoginSession` row),
    which the session cookie and the remember-me cookie carry; deleting the
    row ends both. :attr:`session_token` is rotated whenever every session of
    the user ends; reset links carry a fingerprint of it, so they end too.
    """

    __tablename__ = "auth_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The address as the user typed it, for sending mail.
    email: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH))
    #: The address stripped and lower-cased: unique, and what log-ins look up.
    email_key: Mapped[str] = mapped_column(String(EMAIL_MAX_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, info={"label": "Active"})
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False, info={"label": "Superuser"})
    email_confirmed_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, info={"label": "Email confirmed"}
    )
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, server_default=func.now(), info={"label": "Created"}
    )
    last_login_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, info={"label": "Last login"}
    )
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    #: Loaded on first use (``can()`` of a non-superuser), so a request that only needs the user costs one query;
    #: ``can()`` and ``has_role()`` load it with the roles' grants in one more (see :meth:`_loaded_roles`).
    roles: Mapped[list[Role]] = relationship(secondary="auth_user_role")

    def __init__(self, **kwargs: t.Any) -> None:
        if "email" in kwargs and "email_key" not in kwargs:
            kwargs["email_key"] = email_key(kwargs["email"])
        kwargs.setdefault("session_token", new_session_token())
        super().__init__(**kwargs)

    # Flask-Login's protocol

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session and the remember cookie: the key of the log-in session.

        :raises AuthError: the user is not logged in to a log-in session in
            this request; log in with :func:`erlen_auth.login`, which makes
            one (``flask_login.login_user`` alone does not).
        """
        current = self.login_session_key
        if current is None:
            from .errors import AuthError

            raise AuthError(
                f"{self!r} has no log-in session in this request: log in with erlen_auth.login(user), "
                "not flask_login.login_user(user), so that the session is recorded and can be ended."
            )
        return current

    @property
    def login_session_id(self) -> int | None:
        """The id of the :class:`LoginSession` the user is logged in through in this request, else ``None``."""
        found: tuple[int, str] | None = object_state(self).info.get(_LOGIN)
        return found[0] if found is not None else None

    @property
    def login_session_key(self) -> str | None:
        """The key of that log-in session (only its hash is stored), or ``None``."""
        found: tuple[int, str] | None = object_state(self).info.get(_LOGIN)
        return found[1] if found is not None else None

    def attach_login_session(self, session_id: int, key: str) -> None:
        """Record that the user is logged in through the log-in session ``session_id`` in this request.

        :param session_id: the id of the :class:`LoginSession`, whose ``key_hash`` is the hash of ``key``.
        :param key: the key the cookies carry.
        """
        object_state(self).info[_LOGIN] = (session_id, key)

    def rotate_session_token(self) -> None:
        """Rotate :attr:`session_token`, so that reset links sent before no longer work.

        Ending the log-in sessions is :func:`erlen_auth.end_sessions`'s work.
        """
        self.session_token = new_session_token()

    def set_email(self, email: str) -> None:
        """Change the address, keeping :attr:`email_key` in step."""
        self.email = email.strip()
        self.email_key = email_key(email)

    # Permissions

    @property
    def permissions(self) -> frozenset[str]:
        """The permissions the user's roles grant (a superuser has every permission regardless).

        Kept on the instance with the role sets it was made from, and made
        again when :attr:`roles` or the grants of one of them change: checking
        costs one identity comparison per role, not a new set per call.
        """
        sources = tuple(role.permissions for role in self._loaded_roles())
        cached: tuple[tuple[frozenset[str], ...], frozenset[str]] | None = self.__dict__.get(_USER_PERMISSIONS)
        if cached is not None and len(cached[0]) == len(sources) and all(map(operator.is_, cached[0], sources)):
            return cached[1]
        permissions = frozenset[str]().union(*sources)
        self.__dict__[_USER_PERMISSIONS] = (sources, permissions)
        return permissions

    @property
    def token_scopes(self) -> frozenset[str] | None:
        """The scopes of the access token this request authenticated the user with, else ``None``.

        While set, :meth:`can` allows only what the token's scopes and the
        user's current permissions both allow (see :mod:`erlen_auth.access_tokens`).
        """
        found: frozenset[str] | None = object_state(self).info.get(_TOKEN_SCOPES)
        return found

    def restrict_to_token_scopes(self, scopes: frozenset[str] | None) -> None:
        """Limit :meth:`can` to ``scopes`` for this request (an access token's), or lift the limit with ``None``."""
        if scopes is None:
            object_state(self).info.pop(_TOKEN_SCOPES, None)
        else:
            object_state(self).info[_TOKEN_SCOPES] = frozenset(scopes)

    def can(self, permission: str) -> bool:
        """Whether the user has ``permission``: a superuser, or through a role.

        In a request authenticated by an access token, the token's scopes must allow it too.

        :raises UnknownPermissionError: no enabled plugin declares the permission.
        """
        from .permissions import require_known

        require_known(permission)
        scopes = self.token_scopes
        if scopes is not None and permission not in scopes:
            return False
        return self.is_active and (self.is_superuser or permission in self.permissions)

    def has_role(self, name: str) -> bool:
        """Whether the user has the role called ``name``."""
        return any(role.name == name for role in self._loaded_roles())

    def _loaded_roles(self) -> list[Role]:
        """:attr:`roles`, loaded (when not yet) with each role's grants in one query.

        Their lazy loads would take two: the roles, then the grants (``selectin``), a round trip each on every
        page where a user who is not a superuser is asked ``can()``. A user that is new, detached or whose
        roles are loaded already is read as :attr:`roles` reads it.
        """
        state = inspect(self)
        if "roles" in state.dict:
            return self.roles
        session = state.session
        if session is None and waits_for_the_session(self, state):
            session = database_of().session  # made now: it adopts the user, as the lazy load would have
        if session is None or state.identity is None:
            return self.roles
        loaded = session.scalars(
            select(Role)
            .join(UserRole, UserRole.role_id == Role.id)
            .outerjoin(Role.grants)
            .where(UserRole.user_id == state.identity[0])  # the key, which an expired user has too
            .options(contains_eager(Role.grants))
            .order_by(Role.id)
        )
        roles = list(loaded.unique())
        set_committed_value(self, "roles", roles)
        return self.roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email!r}>"


class LoginSession(Model):
    """One log-in of a user on one device: the session cookie and the remember-me cookie carry its key.

    The key is random (32 bytes) and only its SHA-256 hash is stored, so the
    table's contents log nobody in. Deleting the row logs that device out,
    whatever cookies it kept. A session unused for longer than
    ``AUTH_REMEMBER_DAYS`` is refused, and purged at the user's next log-in
    or by ``erlen user sessions purge``.
    """

    __tablename__ = "auth_session"
    # Ids are never reused on SQLite either: a "sign out this device" form left open must not end a newer session.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The SHA-256 of the key, in hexadecimal.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)
    #: When the session was last used, to within ``AUTH_LAST_SEEN_INTERVAL`` seconds.
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, index=True)
    #: The browser's ``User-Agent`` at log-in, cut to :data:`USER_AGENT_MAX_LENGTH` characters.
    user_agent: Mapped[str] = mapped_column(String(USER_AGENT_MAX_LENGTH), default="")
    #: The client's address at log-in (as :func:`erlen_auth.client_address` gives it).
    address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX_LENGTH), default=None)
    #: When the user last proved who they are in this session (logging in, or re-authenticating for a
    #: sensitive action); ``None`` for sessions made before the column existed.
    reauthenticated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    def __repr__(self) -> str:
        return f"<LoginSession {self.id} of user {self.user_id}>"


def _forget_role_permissions(role: Role | None, *args: t.Any, **kwargs: t.Any) -> None:
    # A rollback expires every state of the identity map, those whose object was garbage-collected too: no role then.
    if role is not None:
        role._forget_permissions()


# Any change of a role's grants, through grant()/revoke() or the list itself, or their reload from the
# database (expire, refresh), drops the role's cached set; users compare their cache with the roles' sets.
for _name in ("append", "remove", "bulk_replace"):
    event.listen(Role.grants, _name, _forget_role_permissions)
event.listen(Role, "expire", _forget_role_permissions)
event.listen(Role, "refresh", _forget_role_permissions)


def _end_sessions_of_deactivated(mapper: t.Any, connection: t.Any, user: User) -> None:
    # However a user is deactivated (erlen_auth.deactivate, the admin's form, code setting is_active), their
    # sessions end in the same transaction: activating the account again does not revive old cookies.
    if user.is_active or not inspect(user).attrs.is_active.history.deleted:
        return
    connection.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


event.listen(User, "after_update", _end_sessions_of_deactivated)


MODELS: tuple[type[Model], ...] = (User, Role, UserRole, RolePermission, LoginSession)
