"""Log-in sessions kept on the server: one ``auth_session`` row per log-in of a user on a device.

The session cookie and the remember-me cookie carry the row's key (32
random bytes); the table keeps only its SHA-256, so reading the table logs
nobody in. A request is logged in while the row exists, its user is active
and it was used within ``AUTH_REMEMBER_DAYS``; deleting the row logs that
device out, whatever cookies it copied. The row and its user are loaded in
one query; the row's ``last_seen_at`` is written at most once every
``AUTH_LAST_SEEN_INTERVAL`` seconds: at the look-up when the request has not
used the database before it, else once the view is done.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import typing as t

import sqlalchemy as sa
from flask import Flask, Response, after_this_request, has_request_context
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict

from . import account_links
from .models import (
    ADDRESS_MAX_LENGTH,
    USER_AGENT_MAX_LENGTH,
    LoginSession,
    RolePermission,
    User,
    UserRole,
    waits_for_the_session,
)

if t.TYPE_CHECKING:
    from erlen_db import Database

logger = logging.getLogger(__name__)

#: The longest key a cookie may carry to be looked up (keys made here have 43 characters).
MAX_KEY_LENGTH = 128

_KEY_HASH_PARAMETER = "erlen_auth_key_hash"


def new_key() -> str:
    """A new random session key: 32 bytes, URL-safe base64."""
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The SHA-256 of ``key`` in hexadecimal, as ``auth_session.key_hash`` stores it.

    A fast hash is enough: the key is random and long, so there is nothing to guess from the hash.
    """
    return hashlib.sha256(key.encode()).hexdigest()


def utc(value: dt.datetime) -> dt.datetime:
    """``value`` as an aware UTC time: SQLite gives back naive times (stored in UTC), PostgreSQL its session zone's."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def idle_limit(config: t.Mapping[str, t.Any]) -> dt.timedelta:
    """How long a session may go unused before it is refused: ``AUTH_REMEMBER_DAYS``, the remember-me cookie's life."""
    return dt.timedelta(days=config["AUTH_REMEMBER_DAYS"])


def start(user: User, db: Session, *, user_agent: str = "", address: str | None = None) -> LoginSession:
    """Add a new log-in session of ``user`` to ``db`` (flushed, not committed) and attach it to ``user``.

    :param user: the user logging in.
    :param db: the session to add the row to.
    :param user_agent: the browser's ``User-Agent``; cut to fit.
    :param address: the client's address; cut to fit.
    :returns: the row; ``user.login_session_id`` is its id and ``user.login_session_key`` its key.
    """
    key = new_key()
    now = dt.datetime.now(dt.UTC)
    row = LoginSession(
        key_hash=hash_key(key),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        reauthenticated_at=now,
        user_agent=user_agent[:USER_AGENT_MAX_LENGTH],
        address=address[:ADDRESS_MAX_LENGTH] if address else None,
    )
    db.add(row)
    db.flush()
    user.attach_login_session(row.id, key)
    return row


def end(db: Session, user_id: int, *, only: int | None = None, keep: int | None = None) -> int:
    """Delete log-in sessions of the user ``user_id`` (not committed).

    :param db: the session to delete with.
    :param user_id: whose sessions.
    :param only: delete only the session with this id (when it is the user's).
    :param keep: delete every session but the one with this id.
    :returns: how many were deleted.
    """
    statement = sa.delete(LoginSession).where(LoginSession.user_id == user_id)
    if only is not None:
        statement = statement.where(LoginSession.id == only)
    if keep is not None:
        statement = statement.where(LoginSession.id != keep)
    result = db.execute(statement)  # the deleted rows leave the identity map too
    return int(t.cast(sa.CursorResult[t.Any], result).rowcount)


def purge(db: Session, idle: dt.timedelta, *, user_id: int | None = None) -> int:
    """Delete the sessions unused for longer than ``idle`` (not committed); they are refused anyway.

    :param db: the session to delete with.
    :param idle: how long a session may go unused (see :func:`idle_limit`).
    :param user_id: only this user's sessions; every user's by default.
    :returns: how many were deleted.
    """
    statement = sa.delete(LoginSession).where(LoginSession.last_seen_at < dt.datetime.now(dt.UTC) - idle)
    if user_id is not None:
        statement = statement.where(LoginSession.user_id == user_id)
    # "fetch": the times cannot be compared in Python (SQLite gives naive ones), and the deleted rows must
    # leave the identity map (the request's own row may be among them).
    result = db.execute(statement, execution_options={"synchronize_session": "fetch"})
    return int(t.cast(sa.CursorResult[t.Any], result).rowcount)


def sessions_of(user: User, db: Session, idle: dt.timedelta) -> list[LoginSession]:
    """The user's sessions that still log in, the most recently used first.

    :param user: whose sessions.
    :param db: the session to query with.
    :param idle: how long a session may go unused (see :func:`idle_limit`).
    """
    statement = (
        sa.select(LoginSession)
        .where(LoginSession.user_id == user.id)
        .where(LoginSession.last_seen_at >= dt.datetime.now(dt.UTC) - idle)
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
    )
    return list(db.scalars(statement))


def user_loader(app: Flask) -> t.Callable[[str], User | None]:
    """Flask-Login's user loader for ``app``: the user of a session key, or ``None``.

    It runs on every logged-in request, so what it needs is resolved once, here.
    """
    from erlen_db import database_of

    # The db plugin, which auth requires, is initialised first; its Database is the app's for good.
    database = database_of(app)
    idle = idle_limit(app.config)
    interval = dt.timedelta(seconds=app.config["AUTH_LAST_SEEN_INTERVAL"])
    # The session's id and last use with the user's columns, in one Core statement built once: a logged-in
    # request costs one round trip, no statement building and none of the ORM's query machinery (compile
    # state, loading context, result processing), which cost half of the request's database work.
    found_user = _UserFromRow(t.cast("sa.Table", User.__table__))
    columns: list[sa.ColumnElement[t.Any]] = [
        *found_user.columns,
        LoginSession.__table__.c.id,
        LoginSession.__table__.c.last_seen_at,
    ]
    # Whether a role grants each permission of the account menu's links (erlen-admin's admin.access), in the same
    # round trip: the menu shows them without a query of its own, on every page (erlen_auth.account_links).
    link_permissions = account_links.permissions_read_with_the_user(app)
    columns.extend(_granted_by_a_role(permission) for permission in link_permissions)
    by_key = (
        sa.select(*columns)
        .join_from(User.__table__, LoginSession.__table__, LoginSession.__table__.c.user_id == User.__table__.c.id)
        .where(LoginSession.__table__.c.key_hash == sa.bindparam(_KEY_HASH_PARAMETER, type_=LoginSession.key_hash.type))
    )
    width = len(found_user.columns)

    def load_user(key: str) -> User | None:
        # Only the app writes the key (the session and the remember-me cookie are signed), but anything
        # other than a plausible key is no session of ours, not a 500.
        if not key or len(key) > MAX_KEY_LENGTH or not key.isascii():
            return None
        # The request's connection, shared with its ORM session, which this look-up does not make: a request
        # that needs nothing else of the database (a page showing the user) never builds one.
        began = database.in_transaction()
        connection = database.connection()
        found = connection.execute(by_key, {_KEY_HASH_PARAMETER: hash_key(key)}).first()
        if found is None:
            return None
        session_id, last_seen_at = found[width], found[width + 1]
        user = found_user.attached(database, found)
        if not user.is_active:
            return None
        now = dt.datetime.now(dt.UTC)
        unused = now - utc(last_seen_at)
        if unused > idle:
            return None
        if unused >= interval:
            made = database.current_session
            if not (began or (made is not None and _holds_work(made))):
                # The request held nothing before this look-up (which does not flush): the write and its
                # commit take nothing of the view's with them.
                _record_last_seen(database.session, session_id, now)
            elif has_request_context():
                # The view used the database first: write once it is done, so that its work is not committed.
                after_this_request(_later(database, session_id, now))
        user.attach_login_session(session_id, key)
        if link_permissions:
            answers = found[width + 2 :]
            account_links.remember(
                user, {name: bool(answer) for name, answer in zip(link_permissions, answers, strict=True)}
            )
        return user

    return load_user


def _granted_by_a_role(permission: str) -> sa.Exists:
    """Whether one of the user's roles grants ``permission``: an ``EXISTS`` on the user loader's user row.

    :param permission: the permission's name.
    """
    user_role = t.cast("sa.Table", UserRole.__table__)
    grant = t.cast("sa.Table", RolePermission.__table__)
    # A column of the table, not EXISTS (SELECT *): erlen-db runs a SELECT without a transaction only when it
    # holds no literal SQL (erlen_db.lone_reads), which saves the loader's BEGIN and ROLLBACK.
    return (
        sa.select(user_role.c.role_id)
        .where(
            user_role.c.user_id == t.cast("sa.Table", User.__table__).c.id,
            grant.c.role_id == user_role.c.role_id,
            grant.c.permission == permission,
        )
        .exists()
    )


class _UserFromRow:
    """Makes a :class:`User` of the session ``db`` from a row of its columns, as an ORM query would.

    The user already in the session's identity map is returned as it is (an ORM query does not overwrite
    it either); otherwise a new instance gets the row's values as loaded (committed) values and joins the
    session as persistent, without a query or anything to flush.

    :param table: the users' table.
    """

    def __init__(self, table: sa.Table) -> None:
        self.mapper = sa.inspect(User)
        properties = [p for p in self.mapper.column_attrs if len(p.columns) == 1 and p.columns[0].table is table]
        #: The columns to select, in the order :meth:`attached` reads them.
        self.columns = [t.cast("sa.Column[t.Any]", p.columns[0]) for p in properties]
        self.keys = [p.key for p in properties]
        self.primary_key = [self.keys.index(self.mapper.get_property_by_column(c).key) for c in self.mapper.primary_key]

    def attached(self, database: Database, row: t.Sequence[t.Any]) -> User:
        """The user of ``row`` (its first values are :attr:`columns`'), in the request's session.

        The session is not made for it: the user waits in :meth:`erlen_db.Database.adopt` until the
        request uses the session (or reads one of the user's relationships).
        """
        identity = self.mapper.identity_key_from_primary_key(tuple(row[index] for index in self.primary_key))
        session = database.current_session
        if session is not None:
            existing = session.identity_map.get(identity)
            if existing is not None:
                return existing
        user = self.mapper.class_manager.new_instance()
        # A new instance has no attribute history to keep: its values go into its dict, as an ORM query's do.
        instance_dict(user).update(zip(self.keys, row, strict=False))
        make_transient_to_detached(user)
        database.adopt(user)
        return user


def _holds_work(db: Session) -> bool:
    """Whether ``db`` has objects waiting to be flushed."""
    return bool(db.new or db.dirty or db.deleted)


def _later(database: Database, session_id: int, now: dt.datetime) -> t.Callable[[Response], Response]:
    """An after-request function writing the session's last use once the view is done (see :func:`record_later`)."""
    return record_later(database, lambda db: _record_last_seen(db, session_id, now))


def record_later(database: Database, write: t.Callable[[Session], None]) -> t.Callable[[Response], Response]:
    """An after-request function running ``write`` (bookkeeping that commits, see :func:`commit_bookkeeping`).

    In the request's session when the view ended its transaction (committed) and left nothing pending;
    otherwise in a session of its own, so that what the view left uncommitted stays uncommitted. Not on
    SQLite then: the file has one writer at a time, and the view's open transaction may be it, which would
    make the write wait for the busy timeout; a later request records the use.

    :param database: the app's database.
    :param write: writes and commits in the session it is given.
    """
    sqlite = database.engine.dialect.name == "sqlite"

    def record(response: Response) -> Response:
        made = database.current_session
        if not (database.in_transaction() or (made is not None and _holds_work(made))):
            write(database.session)
            return response
        if sqlite:
            return response
        own = database.new_session()
        try:
            write(own)
        finally:
            own.close()
        return response

    return record


def _record_last_seen(db: Session, session_id: int, now: dt.datetime) -> None:
    """Write ``now`` as the session's last use and commit it, in the request's session (which holds nothing else).

    The request's own session and connection, not another: on SQLite another connection's commit would
    leave the request's read snapshot stale, and the request's next write would fail as busy.
    """
    statement = sa.update(LoginSession).where(LoginSession.id == session_id).values(last_seen_at=now)
    commit_bookkeeping(db, statement, f"log-in session {session_id}")


def commit_bookkeeping(db: Session, statement: sa.Update, what: str) -> None:
    """Run ``statement`` (an ``UPDATE`` of a last use) in ``db`` and commit; a failure is logged, the request goes on.

    :param db: a session holding nothing else to commit.
    :param statement: the ``UPDATE``.
    :param what: what was used, for the warning (``"log-in session 7"``).
    """
    try:
        db.execute(statement, execution_options={"synchronize_session": False})
        db.commit()
    except SQLAlchemyError as exc:
        try:
            db.rollback()
        except SQLAlchemyError:
            pass  # a lost connection has discarded the transaction itself
        logger.warning("Could not record the last use of %s: %s", what, exc.__class__.__name__)


def loaded_user_id() -> t.Any:
    """The id of the user Flask-Login loaded earlier in this request, else ``None``; it never loads one.

    For log lines (``erlen_log_fields``): read from the row's identity, so a user whose attributes a commit
    expired is not loaded again either.
    """
    from flask import g, has_app_context

    if not has_app_context():
        return None
    user = g.get("_login_user")  # where Flask-Login keeps the user once loaded
    if not isinstance(user, User):
        return None
    identity = sa.inspect(user).identity
    return identity[0] if identity else None


def loaded_user_or_anonymous() -> t.Any:
    """The user Flask-Login loaded earlier in this request, else an anonymous user; it never loads one.

    For error pages, which must not touch the database: a user not loaded
    yet, or whose attributes a commit or rollback expired (reading them
    would query the database again), gives the anonymous user. Whether that
    anonymous user is really a visitor is :func:`may_be_signed_in`.
    """
    from flask import g

    from .models import AnonymousUser

    user = g.get("_login_user")  # where Flask-Login keeps the user once loaded
    if user is None:
        return AnonymousUser()
    if isinstance(user, User):
        state = sa.inspect(user)
        if state.expired_attributes or (state.detached and not waits_for_the_session(user, state)):
            return AnonymousUser()
    return user


def may_be_signed_in(user: t.Any) -> bool:
    """Whether a request whose error page shows ``user`` (from :func:`loaded_user_or_anonymous`) may come from
    someone signed in all the same, so that the page should claim neither way.

    It may when ``user`` is anonymous although the request carries a log-in (a session key in the session
    cookie, a remember-me cookie, an ``Authorization`` header) that was not looked up (the database is down,
    or the error came first) or whose user a rollback expired. It may not when ``user`` is signed in, or when
    the log-in was looked up in this request and belonged to no one. Nothing is loaded to tell.

    :param user: the user the error page got.
    """
    from flask import current_app, g, request, session

    from .models import AnonymousUser

    if getattr(user, "is_authenticated", False) or isinstance(g.get("_login_user"), AnonymousUser):
        return False
    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    return bool(session.get("_user_id") or request.cookies.get(remember_cookie) or request.authorization)
