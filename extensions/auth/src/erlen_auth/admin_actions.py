"""What erlen-auth's admin views do to accounts and roles: the callbacks of their actions.

The admin calls them inside the request's transaction, records an audit
entry and commits; mail (a reset or confirmation link) is queued in the
same transaction, in the outbox when the app has one, exactly as the auth
views queue it. A callback refuses with :class:`erlen_admin.ActionRefused`,
which changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from flask import request
from flask_login import current_user

from erlen_admin import ActionOutcome, ActionRefused, ModelView
from erlen_db import get_session

from . import sessions, user_agents
from .accounts import _end_every_session
from .admin_forms import lockout_problem
from .models import LoginSession, Role, User
from .permissions import permissions_of
from .state import state_of


def _deactivate(user: User) -> None:
    problem = lockout_problem(user, active=False, superuser=user.is_superuser)
    if problem is not None:
        raise ActionRefused(f"{user.email}: {problem}")
    user.is_active = False
    _end_every_session(user, get_session())  # reset links sent before stop working too


def deactivate(view: ModelView, user: User) -> ActionOutcome:
    """Stop ``user`` from logging in and end every session of theirs (not one's own, not the last superuser)."""
    _deactivate(user)
    return ActionOutcome(f"Deactivated {user.email}; their sessions have ended.")


def activate(view: ModelView, user: User) -> str:
    """Let a deactivated ``user`` log in again."""
    user.is_active = True
    return f"Activated {user.email}."


def deactivate_selected(view: ModelView, users: Sequence[User]) -> str:
    """The bulk form of :func:`deactivate`: all of them, or none when one of them may not be."""
    for user in users:
        if user.is_active:
            _deactivate(user)
            get_session().flush()  # the next check counts this one as deactivated
    return f"Deactivated {len(users)} {'user' if len(users) == 1 else 'users'}; their sessions have ended."


def activate_selected(view: ModelView, users: Sequence[User]) -> str:
    """The bulk form of :func:`activate`."""
    for user in users:
        user.is_active = True
    return f"Activated {len(users)} {'user' if len(users) == 1 else 'users'}."


def end_sessions(view: ModelView, user: User) -> ActionOutcome:
    """Log ``user`` out everywhere; one's own account keeps the session in use."""
    db = get_session()
    if user.id == getattr(current_user, "id", None):
        ended = sessions.end(db, user.id, keep=current_user.login_session_id)
        message = f"Ended your other sessions ({ended})."
    else:
        ended = _end_every_session(user, db)
        message = f"Ended every session of {user.email} ({ended})."
    return ActionOutcome(message, {"sessions_ended": [None, ended]})


def end_session(view: ModelView, user: User) -> ActionOutcome:
    """End the one session of ``user`` named by the posted ``session_id``."""
    try:
        session_id = int(request.form.get("session_id", ""))
    except ValueError:
        raise ActionRefused("Choose a session to end.") from None
    if session_id == getattr(current_user, "login_session_id", None):
        raise ActionRefused("This is the session you are using now: log out instead.")
    found = get_session().get(LoginSession, session_id)
    description = f"#{session_id} ({user_agents.describe(found.user_agent)})" if found is not None else ""
    if sessions.end(get_session(), user.id, only=session_id) == 0:
        raise ActionRefused("That session has ended already.")
    return ActionOutcome(f"Ended the session {description} of {user.email}.", {"session_ended": [description, None]})


def confirmation_available(user: User) -> bool:
    """Whether a confirmation link can be sent to ``user``: confirmation is on and the address is not confirmed."""
    return state_of().confirmation_enabled and user.is_active and user.email_confirmed_at is None


def reset_available(user: User) -> bool:
    """Whether a reset link can be sent to ``user``: password reset is on and the account is active."""
    return state_of().reset_enabled and user.is_active


def resend_confirmation(view: ModelView, user: User) -> ActionOutcome:
    """Mail ``user`` a new confirmation link, queued with the audit entry (the outbox, when the app has one)."""
    from .views import send_confirmation

    send_confirmation(user)
    return ActionOutcome(f"A confirmation link is on its way to {user.email}.", {"mail": [None, "confirmation link"]})


def send_reset(view: ModelView, user: User) -> ActionOutcome:
    """Mail ``user`` a password reset link, queued with the audit entry (the outbox, when the app has one)."""
    from .views import send_reset as send

    send(user)
    return ActionOutcome(f"A password reset link is on its way to {user.email}.", {"mail": [None, "reset link"]})


def set_roles(view: ModelView, user: User) -> ActionOutcome:
    """Give ``user`` exactly the roles whose ids are posted as ``roles``."""
    try:
        wanted = {int(value) for value in request.form.getlist("roles")}
    except ValueError:
        raise ActionRefused("The roles are not valid: choose them from the list.") from None
    found = (
        list(get_session().scalars(sa.select(Role).where(Role.id.in_(wanted)).order_by(Role.name))) if wanted else []
    )
    if len(found) != len(wanted):
        raise ActionRefused("A role chosen no longer exists; choose again.")
    before = sorted(role.name for role in user.roles)
    user.roles[:] = found
    after = [role.name for role in found]
    if before == after:
        return ActionOutcome(f"The roles of {user.email} are unchanged.")
    return ActionOutcome(f"Saved the roles of {user.email}.", {"roles": [before, after]})


def set_permissions(view: ModelView, role: Role) -> ActionOutcome:
    """Grant ``role`` exactly the posted ``permissions``; only declared ones, and those it had already."""
    known = permissions_of()
    old = sorted(role.permissions)
    wanted = set(request.form.getlist("permissions"))
    unknown = sorted(name for name in wanted if name not in known and name not in role.permissions)
    if unknown:
        raise ActionRefused(f"{unknown[0]!r} is not a permission any enabled plugin declares.")
    for name in old:
        if name not in wanted:
            role.revoke(name)
    for name in sorted(wanted):
        role.grant(name)
    new = sorted(role.permissions)
    if new == old:
        return ActionOutcome(f"The permissions of the role {role.name} are unchanged.")
    return ActionOutcome(f"Saved the permissions of the role {role.name}.", {"permissions": [old, new]})


def users_of(role: Role, limit: int) -> list[User]:
    """The first ``limit`` users who have ``role``, by email."""
    statement = sa.select(User).where(User.roles.any(Role.id == role.id)).order_by(User.email_key).limit(limit)
    return list(get_session().scalars(statement))


def count_users_of(role: Role) -> int:
    """How many users have ``role``.

    :param role: the role.
    """
    statement = sa.select(sa.func.count()).select_from(User).where(User.roles.any(Role.id == role.id))
    return int(get_session().scalar(statement) or 0)


def session_rows(user: User) -> list[LoginSession]:
    """The sessions of ``user`` that still log in, the most recently used first."""
    from flask import current_app

    return sessions.sessions_of(user, get_session(), sessions.idle_limit(current_app.config))


__all__ = [
    "activate",
    "activate_selected",
    "confirmation_available",
    "count_users_of",
    "deactivate",
    "deactivate_selected",
    "end_session",
    "end_sessions",
    "reset_available",
    "resend_confirmation",
    "send_reset",
    "session_rows",
    "set_permissions",
    "set_roles",
    "users_of",
]
