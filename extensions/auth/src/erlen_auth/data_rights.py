"""The users' rights over their data: exporting it ("Download my data") and deleting the account.

**Export.** :func:`export_user` asks every plugin for its data about a user
(the hook ``erlen_auth_user_export``) and nests each plugin's mapping under the
plugin's name, with metadata: when it was made, the app, the plugins' versions.

**Deletion.** :func:`delete_account` deletes an account in **one
transaction**: every plugin's ``erlen_auth_user_delete`` runs (in reverse load
order, the auth plugin's own last), then rows still referring to the user in
a table whose foreign key would block the deletion stop it, naming the table
and its plugin, then the ``auth_user`` row goes (rows of tables whose key has
``ON DELETE CASCADE`` go with it) and the transaction commits. If anything
fails, everything is rolled back and :class:`AccountDeletionError` names the
plugin at fault: an account is deleted whole, or not at all.

**Grace period.** A user deleting their account from ``/auth/delete`` gets
:func:`request_deletion`: every session ends, the account is kept for
``AUTH_DELETION_GRACE_DAYS`` (a row of ``auth_account_deletion``) and a notice
mail (``deletion_scheduled``) with a signed link to cancel is queued in the
same transaction. Signing in again within the period cancels the deletion,
as the link does (and a ``deletion_cancelled`` notice says so, in case it was
not the owner). ``erlen user purge-deleted`` (:func:`purge_deleted`), run daily,
deletes the accounts whose period has ended. With ``AUTH_DELETION_GRACE_DAYS = 0``
the account is deleted at once.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import typing as t
import uuid

import sqlalchemy as sa
from flask import Flask, current_app, has_request_context, url_for
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import event
from sqlalchemy.orm import Session

import erlen
from erlen_db import database_of, describe_error, get_session

from .data_rights_models import SETTINGS, AccountDeletion  # noqa: F401  (SETTINGS: importable from here too)
from .errors import AuthError
from .models import LoginSession, Role, User, UserRole
from .sessions import utc

logger = logging.getLogger(__name__)

EXPORT_HOOK = "erlen_auth_user_export"
DELETE_HOOK = "erlen_auth_user_delete"

#: What the export file says it is, so that a reader can tell its layout.
EXPORT_FORMAT = "erlen-auth.user-export"
EXPORT_FORMAT_VERSION = 1


class AccountDeletionError(AuthError):
    """An account could not be deleted; nothing was (the transaction was rolled back).

    :param plugin: the plugin at fault: whose ``erlen_auth_user_delete`` raised or
        committed, or whose table still refers to the user; ``None`` when the
        database refused for a reason no plugin can be named for.
    :param table: the table still referring to the user, when that is the reason.
    """

    def __init__(self, message: str, *, plugin: str | None = None, table: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.table = table


class ExportError(AuthError):
    """A plugin's ``erlen_auth_user_export`` returned something that is not JSON data.

    :param plugin: the plugin at fault.
    """

    def __init__(self, message: str, *, plugin: str) -> None:
        super().__init__(message)
        self.plugin = plugin


def _db(db: Session | None) -> Session:
    return db if db is not None else get_session()


def _now(now: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.UTC) if now is None else utc(now)


# Export


def _json_value(value: object) -> t.Any:
    """What ``json.dumps`` writes for the values it does not know: times as ISO 8601, decimals and UUIDs as text.

    A datetime without a time zone is taken to be UTC, as Erlen stores times (SQLite gives them back naive).
    """
    if isinstance(value, dt.datetime):
        return utc(value).isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON data")


def _plain(plugin: str, data: t.Mapping[str, t.Any]) -> t.Any:
    """``data`` as plain JSON values, checked: a value JSON cannot hold names the plugin that returned it."""
    try:
        return json.loads(json.dumps(data, default=_json_value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ExportError(
            f"Plugin {plugin!r}: {EXPORT_HOOK} returned data that is not JSON ({exc}). Return dicts with string "
            "keys, lists, strings, numbers, booleans, None, datetimes or dates.",
            plugin=plugin,
        ) from exc


def export_user(user: User, *, now: dt.datetime | None = None, app: Flask | None = None) -> dict[str, t.Any]:
    """Everything the app's plugins keep about ``user``, as a JSON document (a dict of plain values).

    ``{"format": ..., "generated_at": ..., "app": {...}, "plugins": {name: {"version": ...}},
    "user": {"id": ..., "email": ...}, "data": {plugin name: its mapping}}``: plugins
    that return nothing are left out of ``data``.

    :param user: whose data.
    :param now: the time to stamp the export with (UTC); now by default.
    :param app: the app; the current one by default.
    :raises ExportError: a plugin returned something that is not JSON data.
    :raises erlen.PluginError: a plugin's implementation raised (the error names it) or returned no mapping.
    """
    app = app or t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    registry = erlen.plugins_of(app)
    data: dict[str, t.Any] = {}
    versions: dict[str, dict[str, str | None]] = {}
    for plugin, result in registry.call_each(EXPORT_HOOK, user=user):
        found = erlen.hook_mapping(plugin.name, EXPORT_HOOK, result, "names to JSON values")
        if found:
            data[plugin.name] = _plain(plugin.name, found)
            versions[plugin.name] = {"version": plugin.version}
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "generated_at": _now(now).isoformat(),
        "app": {"name": app.name},
        "plugins": versions,
        "user": {"id": user.id, "email": user.email},
        "data": data,
    }


#: Words that mark a column of the auth plugin's tables as never exported: a leaked export file must
#: not hand out anything that logs in or proves who someone is (hashes, keys, tokens, second-factor seeds).
SECRET_WORDS = frozenset(
    {"hash", "secret", "token", "key", "password", "salt", "seed", "credential", "challenge", "nonce", "otp", "totp"}
)


def is_secret_column(name: str) -> bool:
    """Whether the column ``name`` holds a secret, by its words: ``key_hash``, ``totp_secret``, ``apikey``.

    Errs on the side of leaving a column out of the export.
    """
    words = name.lower().split("_")
    return any(word in SECRET_WORDS or word.endswith(("hash", "secret", "token", "key", "password")) for word in words)


#: The auth plugin's tables :func:`own_export` writes itself; its other tables referring to the user are
#: exported generically (every column but the secret ones and the key to the user).
_EXPORTED_BY_NAME = frozenset({"auth_user", "auth_user_role", "auth_session"})


def _references_to_user(table: sa.Table) -> list[sa.ForeignKey]:
    return [fk for fk in table.foreign_keys if fk.column.table.name == User.__tablename__ and fk.column.name == "id"]


def _owned_tables(owner: str) -> list[sa.Table]:
    return database_of().tables_by_owner().get(owner, [])


def own_export(user: User, db: Session | None = None) -> dict[str, t.Any]:
    """The auth plugin's data about ``user``: the account (no password hash), roles, sessions and its other tables.

    :param user: whose data.
    :param db: the session to read with; the app's by default.
    """
    db = _db(db)
    sessions = db.scalars(sa.select(LoginSession).where(LoginSession.user_id == user.id).order_by(LoginSession.id))
    exported: dict[str, t.Any] = {
        "account": {
            "id": user.id,
            "email": user.email,
            "email_confirmed_at": user.email_confirmed_at,
            "is_active": user.is_active,
            "is_superuser": user.is_superuser,
            "created_at": user.created_at,
            "last_login_at": user.last_login_at,
        },
        "roles": sorted(
            db.scalars(
                sa.select(Role.name).join(UserRole, UserRole.role_id == Role.id).where(UserRole.user_id == user.id)
            )
        ),
        "sessions": [
            {
                "created_at": row.created_at,
                "last_seen_at": row.last_seen_at,
                "user_agent": row.user_agent,
                "address": row.address,
            }
            for row in sessions
        ],
    }
    # The tables other features of the plugin add (second factors, passkeys, linked providers, tokens):
    # exported without their secrets, so a new table is never silently left out.
    for table in _owned_tables("auth"):
        references = _references_to_user(table)
        if table.name in _EXPORTED_BY_NAME or not references:
            continue
        columns = [
            column
            for column in table.columns
            if not is_secret_column(column.name) and all(column is not fk.parent for fk in references)
        ]
        if not columns:
            continue
        condition = sa.or_(*(fk.parent == user.id for fk in references))
        rows = db.execute(sa.select(*columns).where(condition).order_by(*table.primary_key.columns)).mappings()
        exported[table.name] = [
            {name: value for name, value in row.items() if not isinstance(value, (bytes, memoryview))} for row in rows
        ]
    return exported


# Deletion


class _TransactionGuard:
    """Refuses commits, and notices rollbacks, while a plugin's ``erlen_auth_user_delete`` runs.

    The deletion must stay one transaction: a commit would make the data deleted so far permanent
    whatever happens next, and a rollback would undo what the plugins before did.
    """

    def __init__(self) -> None:
        self.plugin: str | None = None
        self.rolled_back_by: str | None = None

    def before_commit(self, session: Session) -> None:
        if self.plugin is not None:
            raise AccountDeletionError(
                f"Plugin {self.plugin!r} committed in {DELETE_HOOK}; it must not: an account is deleted in one "
                "transaction, committed once every plugin has deleted its data. Remove the commit.",
                plugin=self.plugin,
            )

    def after_soft_rollback(self, session: Session, previous_transaction: t.Any) -> None:
        if self.plugin is not None and self.rolled_back_by is None:
            self.rolled_back_by = self.plugin


def _blocking_rows(user_id: int, db: Session) -> tuple[str, sa.Table, sa.Column[t.Any], int] | None:
    """The first table whose rows still refer to the user through a key that blocks deleting the user.

    :returns: its owner (a plugin's name, or ``"app"``), the table, the column and how many rows; ``None`` when none.
    """
    for owner, tables in sorted(database_of().tables_by_owner().items()):
        for table in tables:
            for fk in _references_to_user(table):
                if (fk.ondelete or "").upper() in ("CASCADE", "SET NULL"):
                    continue
                count = db.scalar(sa.select(sa.func.count()).select_from(table).where(fk.parent == user_id)) or 0
                if count:
                    return owner, table, fk.parent, count
    return None


def _run_delete_hooks(user: User, db: Session) -> None:
    registry = erlen.plugins_of()
    guard = _TransactionGuard()
    event.listen(db, "before_commit", guard.before_commit)
    event.listen(db, "after_soft_rollback", guard.after_soft_rollback)
    try:
        # Reverse load order: a plugin is loaded after those it requires, so its rows (which may refer to
        # theirs) go first; the auth plugin's own implementation runs last.
        for impl in reversed(registry.implementations(DELETE_HOOK)):
            guard.plugin = impl.plugin_name
            try:
                impl.function(*({"user": user}[name] for name in impl.argnames))
            except AccountDeletionError:
                raise
            except Exception as exc:
                raise AccountDeletionError(
                    f"Plugin {impl.plugin_name!r} failed in {DELETE_HOOK} for {user!r}: {type(exc).__name__}: "
                    f"{exc}. Nothing was deleted.",
                    plugin=impl.plugin_name,
                ) from exc
            guard.plugin = None
            if guard.rolled_back_by is not None:
                raise AccountDeletionError(
                    f"Plugin {guard.rolled_back_by!r} rolled the transaction back in {DELETE_HOOK}; it must not: "
                    "that undoes what the plugins before it deleted. Raise an exception instead, which rolls the "
                    "whole deletion back. Nothing was deleted.",
                    plugin=guard.rolled_back_by,
                )
            try:
                db.flush()  # the plugin's changes, while a failure can still be put down to it
            except sa.exc.SQLAlchemyError as exc:
                raise AccountDeletionError(
                    f"The changes of plugin {impl.plugin_name!r} in {DELETE_HOOK} for {user!r} failed: "
                    f"{describe_error(exc, database_of())}. Nothing was deleted.",
                    plugin=impl.plugin_name,
                ) from exc
    finally:
        event.remove(db, "before_commit", guard.before_commit)
        event.remove(db, "after_soft_rollback", guard.after_soft_rollback)


def delete_account(user: User, *, db: Session | None = None, notice: bool = True, reason: str = "request") -> None:
    """Delete ``user`` and every plugin's data about them, in one transaction; commits.

    Runs every plugin's ``erlen_auth_user_delete`` (reverse load order), checks
    that no table still refers to the user through a foreign key that would
    block the deletion, deletes the ``auth_user`` row (with the rows of tables
    whose key has ``ON DELETE CASCADE``) and commits. With ``notice``, an
    ``account_deleted`` notice mail is queued in the same transaction.

    :param user: the account to delete.
    :param db: the session; the app's by default.
    :param notice: mail the user that the account was deleted (when notices are on).
    :param reason: for the mail: ``"request"`` (the user asked) or ``"operator"`` (``erlen user delete``).
    :raises AccountDeletionError: a plugin's implementation raised or committed, or
        a table still refers to the user (the error names the plugin and table);
        everything was rolled back and the account is whole.
    """
    from . import notices

    db = _db(db)
    user_id, shown = user.id, repr(user)
    try:
        _run_delete_hooks(user, db)
        blocking = _blocking_rows(user_id, db)
        if blocking is not None:
            owner, table, column, count = blocking
            who = f"Plugin {owner!r}" if owner != "app" else "The app"
            raise AccountDeletionError(
                f"{who} keeps {count} row{'' if count == 1 else 's'} of {table.name} referring to {shown} through "
                f"{table.name}.{column.name}, a foreign key without ON DELETE CASCADE, that no {DELETE_HOOK} "
                f"deleted. Nothing was deleted. {who} must implement {DELETE_HOOK} to delete or anonymise them, "
                'or declare the key with ondelete="CASCADE".',
                plugin=owner if owner != "app" else None,
                table=table.name,
            )
        if notice:
            notices.notify(user, "account_deleted", reason=reason, db=db)
        db.execute(sa.delete(User).where(User.id == user_id))
        try:
            db.flush()
        except sa.exc.SQLAlchemyError as exc:
            # A row that goes with the user (ON DELETE CASCADE) is itself referred to by a row that does not.
            raise AccountDeletionError(
                f"The database refused to delete {shown}: {describe_error(exc, database_of())}. Nothing was "
                "deleted. A table referring to a row that goes with the user blocks it: its plugin must delete "
                f'those rows in {DELETE_HOOK}, or declare its key with ondelete="CASCADE".',
            ) from exc
        db.commit()
    except BaseException:
        db.rollback()
        raise
    logger.info("Deleted the account of user %s.", user_id)


def own_delete(user: User, db: Session | None = None) -> None:
    """The auth plugin's part of deleting ``user``: its rows referring to the user, not the ``auth_user`` row.

    Its tables' keys have ``ON DELETE CASCADE``; rows of any of its tables
    whose key does not are deleted here, so that a feature's table is never
    what blocks a deletion.
    """
    db = _db(db)
    db.execute(sa.delete(LoginSession).where(LoginSession.user_id == user.id))
    db.execute(sa.delete(AccountDeletion).where(AccountDeletion.user_id == user.id))
    for table in _owned_tables("auth"):
        for fk in _references_to_user(table):
            if table.name != User.__tablename__ and (fk.ondelete or "").upper() not in ("CASCADE", "SET NULL"):
                db.execute(sa.delete(table).where(fk.parent == user.id))


# The grace period


def grace_period(config: t.Mapping[str, t.Any] | None = None) -> dt.timedelta:
    """``AUTH_DELETION_GRACE_DAYS`` as a time span."""
    return dt.timedelta(days=(config or current_app.config)["AUTH_DELETION_GRACE_DAYS"])


def pending_deletion(user: User, *, db: Session | None = None) -> AccountDeletion | None:
    """The deletion ``user`` asked for and that is still to come, or ``None``."""
    return _db(db).get(AccountDeletion, user.id)


def _serializer(app: Flask) -> URLSafeSerializer:
    key = app.config.get("SECRET_KEY")
    if not key:
        raise erlen.ConfigError(
            "The auth plugin signs the links that cancel an account deletion with SECRET_KEY, which is not set. Set "
            'SECRET_KEY (or ERLEN_SECRET_KEY) to a long random value: python -c "import secrets; '
            'print(secrets.token_urlsafe(48))"'
        )
    keys = [str(k) for k in (*(app.config.get("SECRET_KEY_FALLBACKS") or ()), key) if k]
    return URLSafeSerializer(keys, salt="erlen-auth.cancel-deletion")


def _stamp(deletion: AccountDeletion) -> str:
    return utc(deletion.requested_at).isoformat(timespec="microseconds")


def cancel_token(deletion: AccountDeletion, app: Flask | None = None) -> str:
    """The token of the link that cancels ``deletion``: signed, good for that request only, until it is carried out."""
    app = app or t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    return _serializer(app).dumps({"user": deletion.user_id, "requested": _stamp(deletion)})


def deletion_for_token(
    token: str, *, now: dt.datetime | None = None, db: Session | None = None
) -> AccountDeletion | None:
    """The pending deletion a cancel link's ``token`` is for, or ``None``: forged, of another request, or expired.

    The link expires with the grace period: once ``delete_after`` has passed it
    no longer cancels (signing in still does, until the account is purged).
    """
    try:
        payload = _serializer(t.cast(Flask, current_app._get_current_object())).loads(token)  # type: ignore[attr-defined]
    except BadData:
        return None
    if not isinstance(payload, dict):
        return None
    user_id, stamp = payload.get("user"), payload.get("requested")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not isinstance(stamp, str):
        return None
    deletion = _db(db).get(AccountDeletion, user_id)
    if deletion is None or _stamp(deletion) != stamp or _now(now) > utc(deletion.delete_after):
        return None
    return deletion


def request_deletion(
    user: User, *, now: dt.datetime | None = None, db: Session | None = None
) -> AccountDeletion | None:
    """Schedule the deletion of ``user``'s account after the grace period; commits.

    Every session of the user ends (reset links too) and a ``deletion_scheduled``
    notice, with a link to cancel, is queued in the same transaction. With
    ``AUTH_DELETION_GRACE_DAYS = 0`` the account is deleted at once instead
    (:func:`delete_account`). Asking again while a deletion is pending starts
    the period again.

    :param user: the account.
    :param now: the time of the request (UTC); now by default.
    :param db: the session; the app's by default.
    :returns: the scheduled deletion, or ``None`` when the account was deleted at once.
    :raises AccountDeletionError: deleting at once failed (see :func:`delete_account`).
    """
    from . import accounts, notices

    db = _db(db)
    grace = grace_period()
    if not grace:
        delete_account(user, db=db)
        return None
    now = _now(now)
    deletion = db.get(AccountDeletion, user.id)
    if deletion is None:
        deletion = AccountDeletion(user_id=user.id)
        db.add(deletion)
    deletion.requested_at, deletion.delete_after = now, now + grace
    accounts._end_every_session(user, db)
    link = (
        url_for("auth.cancel_deletion", token=cancel_token(deletion), _external=True) if has_request_context() else None
    )
    notices.notify(
        user,
        "deletion_scheduled",
        delete_after=deletion.delete_after,
        grace_days=grace.days,
        cancel_link=link,
        db=db,
    )
    try:
        db.commit()
    except sa.exc.IntegrityError:
        # The same request sent twice at once (a double click): the other one scheduled it, mail included.
        db.rollback()
        scheduled = db.get(AccountDeletion, user.id)
        if scheduled is None:
            raise
        return scheduled
    return deletion


def cancel_deletion(user: User, *, db: Session | None = None) -> bool:
    """Cancel the pending deletion of ``user``'s account and queue a ``deletion_cancelled`` notice (not committed).

    :returns: whether a deletion was pending.
    """
    from . import notices

    db = _db(db)
    deletion = db.get(AccountDeletion, user.id)
    if deletion is None:
        return False
    db.delete(deletion)
    notices.notify(user, "deletion_cancelled", db=db)
    return True


def cancel_on_sign_in(user: User) -> bool:
    """Cancel the pending deletion of a user who just signed in (the hook ``erlen_auth_logged_in``); commits.

    Signing in within the grace period is how a user takes the deletion back,
    as with the large services. One primary-key look-up per sign-in.

    :returns: whether a deletion was cancelled.
    """
    from flask import flash

    db = get_session()
    if not cancel_deletion(user, db=db):
        return False
    db.commit()
    if has_request_context():
        flash("You logged in again, so your account will not be deleted.", "success")
    return True


def purge_deleted(*, now: dt.datetime | None = None, db: Session | None = None) -> tuple[int, list[str]]:
    """Delete the accounts whose grace period has ended; each in a transaction of its own.

    A user who signed in after asking (should the cancellation at sign-in have
    failed) keeps the account: their request is dropped instead.

    :param now: the time to compare with (UTC); now by default.
    :param db: the session; the app's by default.
    :returns: how many accounts were deleted, and a message per account that could not be (the others still are).
    """
    db = _db(db)
    moment = _now(now)
    due = list(db.scalars(sa.select(AccountDeletion.user_id).where(AccountDeletion.delete_after <= moment)))
    deleted, failures = 0, []
    for user_id in due:
        user = db.get(User, user_id)
        deletion = db.get(AccountDeletion, user_id)
        if user is None or deletion is None:
            continue  # deleted or cancelled since the query
        if user.last_login_at is not None and utc(user.last_login_at) > utc(deletion.requested_at):
            db.delete(deletion)
            db.commit()
            continue
        try:
            delete_account(user, db=db)
        except AccountDeletionError as exc:
            logger.error("Could not delete the account of user %s: %s", user_id, exc)
            failures.append(f"user {user_id}: {exc}")
        else:
            deleted += 1
    return deleted, failures
