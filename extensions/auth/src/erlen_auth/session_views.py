"""The "Your sessions" page: the log-in sessions of the current user, each of which can be logged out.

The rules of these views are in :data:`erlen_auth.blueprint.LAZY_RULES`: the app registers them when it is
created, and this module is imported by the first request for one of them.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from erlen_db import get_session

from . import accounts, sessions, user_agents
from .forms import EmptyForm
from .permissions import login_required
from .redirects import safe_next

if t.TYPE_CHECKING:
    from .models import User


@dataclass(frozen=True)
class SessionView:
    """One log-in session as the page shows it.

    :param id: the row's id, which the "Log out this device" form posts.
    :param user_agent: the browser's ``User-Agent`` at log-in (may be empty).
    :param address: the client's address at log-in, if known.
    :param created_at: when the user logged in, in UTC.
    :param last_seen_at: when the session was last used (to within ``AUTH_LAST_SEEN_INTERVAL``), in UTC.
    :param current: whether it is the session of the browser looking at the page.
    """

    id: int
    user_agent: str
    address: str | None
    created_at: dt.datetime
    last_seen_at: dt.datetime
    current: bool

    @property
    def device(self) -> str:
        """The browser as its owner names it ("Firefox on Linux"), or the ``User-Agent`` as sent."""
        return user_agents.describe(self.user_agent)


def _user() -> User:
    return t.cast("User", current_user._get_current_object())


@login_required
def sessions_page() -> t.Any:
    """List the current user's sessions, this browser's first, with a form to sign each out."""
    user = _user()
    current = user.login_session_id
    rows = sessions.sessions_of(user, get_session(), sessions.idle_limit(current_app.config))
    listed = [
        SessionView(
            id=row.id,
            user_agent=row.user_agent,
            address=row.address,
            created_at=sessions.utc(row.created_at),
            last_seen_at=sessions.utc(row.last_seen_at),
            current=row.id == current,
        )
        for row in rows
    ]
    listed.sort(key=lambda view: not view.current)  # stable: the others stay most recent first
    return render_template("auth/sessions.html", sessions=listed, form=EmptyForm())


@login_required
def end_session(session_id: int) -> t.Any:
    """Log out one of the current user's sessions (POST, with a CSRF token); this browser's logs out."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user()
    if session_id == user.login_session_id:
        accounts.logout()
        flash("You were logged out of this device.", "success")
        return redirect(safe_next(current_app.config["AUTH_LOGOUT_REDIRECT"]))
    ended = sessions.end(get_session(), user.id, only=session_id)
    get_session().commit()
    # Another user's id, or one already ended, changes nothing and says so: nothing about others is told.
    flash("That device was logged out." if ended else "That session had ended already.", "success")
    return redirect(url_for("auth.sessions"))


@login_required
def end_other_sessions() -> t.Any:
    """Log out every other session of the current user (POST, with a CSRF token), as "log out everywhere" does."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    accounts.logout_everywhere(_user())
    flash("Every other device was logged out.", "success")
    return redirect(url_for("auth.sessions"))
