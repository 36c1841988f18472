"""Security notices: mail telling a user that something changed in their account.

Each notice is queued in the outbox in the transaction of the change that
causes it (the caller commits both), so a change is never saved without its
notice, nor a notice sent for a change that was rolled back. Without the
mail plugin, or with ``AUTH_SECURITY_NOTICES`` off, nothing is sent.

A notice's mail is the template ``mail/auth/notices/<event>`` (``.subject.txt``,
``.txt`` and ``.html``); the app overrides any of them in its own templates.
"""

from __future__ import annotations

import typing as t

from flask import current_app

import erlen

from .state import state_of

if t.TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .models import User

SETTINGS = [
    erlen.Setting(
        "SECURITY_NOTICES",
        bool,
        default=True,
        help="Email users when their password, email address, second factors or access tokens change, "
        "and when they log in from a new device (needs the mail plugin).",
    ),
]


def enabled() -> bool:
    """Whether notices are sent: the mail plugin is enabled and ``AUTH_SECURITY_NOTICES`` is on."""
    return state_of().mail and bool(current_app.config["AUTH_SECURITY_NOTICES"])


def notify(user: User, event: str, *, to: str | None = None, db: Session | None = None, **context: t.Any) -> bool:
    """Queue the security notice ``event`` for ``user`` in the current transaction (the caller commits).

    :param user: whose account changed.
    :param event: the notice's name, such as ``"password_changed"``: its template is
        ``auth/notices/<event>`` under the mail templates.
    :param to: the address to write to, when not the user's own (the old address after an email change).
    :param db: the session the change is in, when not the request's: the notice is queued in its transaction.
    :param context: more variables for the templates; they always get ``user``.
    :returns: whether a notice was queued (not when notices are off).
    """
    if not enabled():
        return False
    from erlen_mail import deliver_template

    deliver_template(f"auth/notices/{event}", to=to or user.email, session=db, user=user, **context)
    return True
