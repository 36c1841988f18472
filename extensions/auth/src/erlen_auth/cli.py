"""``erlen user``, ``erlen role`` and ``erlen permissions``.

The ``erlen`` command loads this module for the groups' help pages too
(``erlen user --help``, ``erlen user create --help``), which it prints without
finishing the app's set-up: so SQLAlchemy, the models and the accounts are
imported by the commands that use them, not at the top.
"""

from __future__ import annotations

import sys
import typing as t

import click
from flask import current_app
from flask.cli import AppGroup

from . import password_policy
from .errors import UnknownPermissionError
from .permissions import permissions_of, require_known
from .plugin import PERMISSIONS_HELP, ROLE_HELP, USER_HELP

if t.TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .models import Role, User


def _read_password(confirm: bool = True, *, email: str | None = None) -> str:
    """Ask for a password without echo on a terminal; otherwise read the first line of standard input.

    :param confirm: ask twice on a terminal.
    :param email: the account's address: the password policy refuses a password made of it.
    :raises click.ClickException: no password, or one the password policy refuses (with the forms' message).
    """
    if sys.stdin.isatty():
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=confirm))
    else:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException(
                'No password on standard input: pipe it in (echo "$PASSWORD" | erlen user ...) '
                "or run the command in a terminal to be asked for it."
            )
    low, high = current_app.config["AUTH_PASSWORD_MIN_LENGTH"], current_app.config["AUTH_PASSWORD_MAX_LENGTH"]
    if not low <= len(password) <= high:
        raise click.ClickException(f"The password must have between {low} and {high} characters.")
    found = password_policy.problems(password, current_app.config, email=email)
    if found:
        raise click.ClickException(" ".join(found))
    return password


def _new_email(email: str) -> str:
    """``email`` stripped, when it is an address the registration form would accept too."""
    import email_validator

    email = email.strip()
    try:
        email_validator.validate_email(email, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise click.ClickException(f"--email: {email!r} is not a valid email address: {exc}") from None
    from .models import email_key_problem

    problem = email_key_problem(email)
    if problem is not None:
        raise click.ClickException(f"--email: {email!r}: {problem}")
    return email


def _session() -> Session:
    # erlen_db's session module imports SQLAlchemy: imported by the commands that run, not by a help page.
    from erlen_db import get_session

    return get_session()


def _user(email: str) -> User:
    from . import accounts

    user = accounts.find_user(email)
    if user is None:
        raise click.ClickException(f"There is no user with the email {email!r}.")
    return user


def _role(name: str) -> Role:
    import sqlalchemy as sa

    from .models import Role

    role = _session().scalar(sa.select(Role).where(Role.name == name))
    if role is None:
        raise click.ClickException(f"There is no role {name!r}. Roles: {', '.join(_role_names()) or 'none'}.")
    return role


def _role_names() -> list[str]:
    import sqlalchemy as sa

    from .models import Role

    return list(_session().scalars(sa.select(Role.name).order_by(Role.name)))


user_group = AppGroup("user", help=USER_HELP)


@user_group.command("create")
@click.option("--email", required=True, help="The user's email address.")
@click.option("--superuser", is_flag=True, help="Give every permission.")
@click.option("--role", "roles", multiple=True, help="A role to give; repeat for several.")
def create_user_command(email: str, superuser: bool, roles: tuple[str, ...]) -> None:
    """Create a user. The password is asked for without echo, or read from standard input."""
    from . import accounts

    email = _new_email(email)
    for name in roles:
        _role(name)
    if accounts.find_user(email) is not None:
        raise click.ClickException(f"A user with the email {email!r} exists already.")
    password = _read_password(email=email)
    user = accounts.create_user(email, password, superuser=superuser, roles=roles, confirmed=True)
    click.echo(f"Created user {user.id} <{user.email}>" + (" (superuser)" if superuser else "") + ".")


@user_group.command("set-password")
@click.option("--email", required=True, help="The user's email address.")
def set_password_command(email: str) -> None:
    """Set a user's password (asked for without echo, or read from standard input); their sessions end."""
    from . import accounts

    user = _user(email)
    accounts.set_password(user, _read_password(email=user.email), reason="command")
    click.echo(f"Changed the password of <{user.email}>; their sessions have ended.")


@user_group.command("deactivate")
@click.option("--email", required=True, help="The user's email address.")
def deactivate_command(email: str) -> None:
    """Stop a user from logging in; their sessions end at once."""
    from . import accounts

    user = _user(email)
    accounts.deactivate(user)
    click.echo(f"Deactivated <{user.email}>; their sessions have ended.")


@user_group.command("end-sessions")
@click.option("--email", required=True, help="The user's email address.")
def end_sessions_command(email: str) -> None:
    """Log a user out everywhere: every session and remember-me cookie stops working."""
    from . import accounts

    user = _user(email)
    ended = accounts.end_sessions(user)
    click.echo(f"Ended every session of <{user.email}> ({ended}).")


def _time(value: t.Any) -> str | None:
    from .sessions import utc

    return None if value is None else utc(value).isoformat(timespec="seconds")


@user_group.command("list")
@click.option("--active/--inactive", default=None, help="Only active accounts, or only deactivated ones.")
@click.option("--superuser/--not-superuser", default=None, help="Only superusers, or only the others.")
@click.option("--role", "role_name", default=None, help="Only users who have this role.")
@click.option("--confirmed/--unconfirmed", default=None, help="Only users whose address is confirmed, or not.")
@click.option("--search", default=None, help="Only users whose email contains this text (any case).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_users_command(
    active: bool | None,
    superuser: bool | None,
    role_name: str | None,
    confirmed: bool | None,
    search: str | None,
    as_json: bool,
) -> None:
    """List user accounts, by id: never their password hashes or tokens."""
    import json

    from sqlalchemy.orm import selectinload

    from .models import User
    from .user_filters import users

    role_id = _role(role_name).id if role_name is not None else None
    statement = users(
        active=active, superuser=superuser, role_id=role_id, is_confirmed=confirmed, search=search
    ).options(selectinload(User.roles))
    found = [
        {
            "id": user.id,
            "email": user.email,
            "is_active": user.is_active,
            "is_superuser": user.is_superuser,
            "email_confirmed_at": _time(user.email_confirmed_at),
            "last_login_at": _time(user.last_login_at),
            "created_at": _time(user.created_at),
            "roles": sorted(role.name for role in user.roles),
        }
        for user in _session().scalars(statement)
    ]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("No users match.")
        return
    width = max(len(row["email"]) for row in found)
    click.echo(f"{'ID':>6}  {'EMAIL'.ljust(width)}  ACTIVE  SUPER  CONFIRMED  LAST LOGIN                 ROLES")
    for row in found:
        click.echo(
            f"{row['id']:>6}  {row['email'].ljust(width)}  {'yes' if row['is_active'] else 'no':<6}  "
            f"{'yes' if row['is_superuser'] else 'no':<5}  {'yes' if row['email_confirmed_at'] else 'no':<9}  "
            f"{row['last_login_at'] or 'never':<25}  {', '.join(row['roles']) or '-'}"
        )


sessions_group = AppGroup("sessions", help="Manage log-in sessions.")
user_group.add_command(sessions_group)


@sessions_group.command("purge")
def purge_sessions_command() -> None:
    """Delete the log-in sessions unused for longer than AUTH_REMEMBER_DAYS (they log nobody in any more).

    Each user's are purged when they log in; run this from cron to purge those of users who do not come back.
    """
    from . import sessions

    purged = sessions.purge(_session(), sessions.idle_limit(current_app.config))
    _session().commit()
    click.echo(
        f"Purged {purged} log-in session{'' if purged == 1 else 's'} unused for more than "
        f"{current_app.config['AUTH_REMEMBER_DAYS']} days."
    )


@user_group.command("activate")
@click.option("--email", required=True, help="The user's email address.")
def activate_command(email: str) -> None:
    """Let a deactivated user log in again."""
    user = _user(email)
    user.is_active = True
    _session().commit()
    click.echo(f"Activated <{user.email}>.")


@user_group.command("add-role")
@click.option("--email", required=True, help="The user's email address.")
@click.argument("role")
def add_role_command(email: str, role: str) -> None:
    """Give a user a role."""
    user, found = _user(email), _role(role)
    if found not in user.roles:
        user.roles.append(found)
    _session().commit()
    click.echo(f"<{user.email}> has the role {role!r}.")


@user_group.command("remove-role")
@click.option("--email", required=True, help="The user's email address.")
@click.argument("role")
def remove_role_command(email: str, role: str) -> None:
    """Take a role from a user."""
    user, found = _user(email), _role(role)
    user.roles[:] = [r for r in user.roles if r.id != found.id]
    _session().commit()
    click.echo(f"<{user.email}> no longer has the role {role!r}.")


role_group = AppGroup("role", help=ROLE_HELP)


@role_group.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the role is for.")
def create_role_command(name: str, description: str) -> None:
    """Create a role."""
    import sqlalchemy as sa

    from .models import ROLE_NAME_MAX_LENGTH, Role

    if not name.strip() or len(name) > ROLE_NAME_MAX_LENGTH:
        raise click.ClickException(
            f"NAME: give a role name that is not blank, of at most {ROLE_NAME_MAX_LENGTH} characters."
        )
    if _session().scalar(sa.select(Role).where(Role.name == name)) is not None:
        raise click.ClickException(f"The role {name!r} exists already.")
    _session().add(Role(name=name, description=description))
    _session().commit()
    click.echo(f"Created the role {name!r}.")


def _check_permissions(names: tuple[str, ...]) -> None:
    try:
        require_known(*names)
    except UnknownPermissionError as exc:
        raise click.ClickException(str(exc)) from None


@role_group.command("grant")
@click.argument("name")
@click.argument("permissions", nargs=-1, required=True)
def grant_command(name: str, permissions: tuple[str, ...]) -> None:
    """Grant permissions to a role."""
    _check_permissions(permissions)
    role = _role(name)
    for permission in permissions:
        role.grant(permission)
    _session().commit()
    click.echo(f"The role {name!r} has: {', '.join(sorted(role.permissions))}.")


@role_group.command("revoke")
@click.argument("name")
@click.argument("permissions", nargs=-1, required=True)
def revoke_command(name: str, permissions: tuple[str, ...]) -> None:
    """Revoke permissions from a role."""
    role = _role(name)
    for permission in permissions:
        role.revoke(permission)
    _session().commit()
    click.echo(f"The role {name!r} has: {', '.join(sorted(role.permissions)) or 'no permissions'}.")


@role_group.command("list")
def list_roles_command() -> None:
    """List the roles with their permissions and number of users."""
    import sqlalchemy as sa

    from .models import Role, User

    roles = list(_session().scalars(sa.select(Role).order_by(Role.name)))
    if not roles:
        click.echo("No roles. Create one with `erlen role create NAME`.")
    known = permissions_of()
    for role in roles:
        members = _session().scalar(
            sa.select(sa.func.count()).select_from(User).where(User.roles.any(Role.id == role.id))
        )
        click.echo(f"{role.name}" + (f" - {role.description}" if role.description else "") + f" ({members} users)")
        for permission in sorted(role.permissions):
            click.echo(f"  {permission}" + ("" if permission in known else "  (not declared by any enabled plugin)"))


@click.command("permissions", help=PERMISSIONS_HELP)
def permissions_command() -> None:
    """``erlen permissions``: see :data:`erlen_auth.plugin.PERMISSIONS_HELP`."""
    known = permissions_of()
    width = max((len(name) for name in known), default=0)
    for permission in known.values():
        click.echo(f"{permission.name.ljust(width)}  [{permission.plugin}]  {permission.description}")
    if not known:
        click.echo("No permissions are declared.")


token_group = AppGroup("token", help="Manage personal access tokens.")
user_group.add_command(token_group)


@token_group.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for, shown in lists.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="A permission the token may use (one the user has); repeat for several. None: it allows no permission.",
)
@click.option(
    "--expires-days",
    type=int,
    default=None,
    help="Days the token is valid for (default AUTH_ACCESS_TOKEN_DEFAULT_DAYS); 0: never expires, "
    "allowed only when AUTH_ACCESS_TOKEN_MAX_DAYS is unset.",
)
def create_token_command(email: str, name: str, scopes: tuple[str, ...], expires_days: int | None) -> None:
    """Make a personal access token for the user EMAIL and print it, once: it is stored nowhere."""
    from . import access_tokens

    user = _user(email)
    _check_permissions(scopes)
    days: int | None = access_tokens.expiry_limits()[0] if expires_days is None else expires_days or None
    try:
        made = access_tokens.create(user, name=name, scopes=scopes, expires_days=days)
    except access_tokens.ScopeError as exc:
        raise click.ClickException(f"--scope: <{user.email}> does not have {', '.join(exc.scopes)}.") from None
    except ValueError as exc:
        raise click.ClickException(f"--name/--expires-days: {exc}") from None
    _session().commit()
    row = made.row
    expiry = row.expires_at.strftime("%Y-%m-%d %H:%M UTC") if row.expires_at else "never"
    click.echo(f"Created the access token {row.id} {row.name!r} of <{user.email}> (expires: {expiry}).", err=True)
    click.echo("Copy it now; it is not shown again:", err=True)
    click.echo(made.token)


@token_group.command("list")
@click.argument("email")
def list_tokens_command(email: str) -> None:
    """List the access tokens of the user EMAIL (never the tokens themselves)."""
    from . import access_tokens

    user = _user(email)
    rows = access_tokens.tokens_of(user)
    if not rows:
        click.echo(f"<{user.email}> has no access tokens.")
    for row in rows:
        when = "%Y-%m-%d %H:%M"
        last = (
            f"last used {row.last_used_at.strftime(when)} from {row.last_used_address or 'an unknown address'}"
            if row.last_used_at
            else "never used"
        )
        expires = f"expires {row.expires_at.strftime(when)}" if row.expires_at else "never expires"
        click.echo(
            f"{row.id}  {row.display_prefix}_…  {row.name!r}  [{row.status()}]  "
            f"scopes: {', '.join(row.scopes) or 'none'}; {expires}; {last}"
        )


@token_group.command("revoke")
@click.argument("token_id", type=int)
def revoke_token_command(token_id: int) -> None:
    """Revoke the access token TOKEN_ID (see `erlen user token list`): it stops working at once."""
    from . import access_tokens

    row = access_tokens.revoke(token_id)
    if row is None:
        raise click.ClickException(f"There is no access token {token_id} that is not revoked already.")
    _session().commit()
    click.echo(f"Revoked the access token {row.id} {row.name!r}.")


two_factor_group = AppGroup("two-factor", help="Manage users' two-factor authentication.")
user_group.add_command(two_factor_group)


@two_factor_group.command("reset")
@click.argument("email")
def reset_two_factor_command(email: str) -> None:
    """Turn a user's two-factor authentication off (a lost device): their secret and recovery codes are deleted.

    They log in with the password alone and set it up again (at once, when
    it is required of them). They are mailed a notice.
    """
    from . import totp

    user = _user(email)
    if totp.disable(user, reason="reset"):
        click.echo(f"Reset the two-factor authentication of <{user.email}>: they log in with their password alone.")
    else:
        click.echo(f"<{user.email}> had no two-factor authentication; nothing changed.")


@user_group.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--no-mail", is_flag=True, help="Do not mail the user that the account was deleted.")
def delete_user_command(email: str, yes: bool, no_mail: bool) -> None:
    """Delete the account EMAIL and every plugin's data about it, at once (no grace period)."""
    from .data_rights import AccountDeletionError, delete_account

    user = _user(email)
    if not yes:
        click.confirm(f"Delete the account <{user.email}> and all its data? This cannot be undone", abort=True)
    shown = user.email
    try:
        delete_account(user, notice=not no_mail, reason="operator")
    except AccountDeletionError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Deleted the account <{shown}> and its data.")


@user_group.command("purge-deleted")
def purge_deleted_command() -> None:
    """Delete the accounts whose owners asked to delete them and whose grace period has ended.

    Run it daily (from cron, or a task worker): an account is deleted at the first run after
    AUTH_DELETION_GRACE_DAYS. An account that cannot be deleted is reported (exit status 1); the others are.
    """
    from .data_rights import purge_deleted

    deleted, failures = purge_deleted()
    click.echo(f"Deleted {deleted} account{'' if deleted == 1 else 's'} whose grace period had ended.")
    if failures:
        for failure in failures:
            click.echo(f"Not deleted: {failure}", err=True)
        raise SystemExit(1)
