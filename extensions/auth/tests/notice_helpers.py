"""Helpers of the tests of queued security notices and email changes."""

from __future__ import annotations

import contextlib
import re
import typing as t
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from erlen_db import database_of


def outbox_rows(app: t.Any) -> list[t.Any]:
    """Every row of the app's outbox, oldest first, as (status, recipients, subject)."""
    from erlen_mail.outbox.models import OutboxMessage

    with database_of(app).session_scope() as session:
        rows = session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))
        return [(row.status, row.recipient_list, row.subject) for row in rows]


def link_in(message: t.Any, path: str) -> str:
    """The path of the first link to ``path...`` in a delivered message's text body."""
    found = re.search(rf"http://localhost({re.escape(path)}\S+)", message.body)
    assert found, message.body
    return found.group(1)


@contextlib.contextmanager
def failing_commit_with(subject: str) -> Iterator[None]:
    """Make every commit that carries a queued mail with ``subject`` fail, as a database failure at commit would.

    The change the mail is about is in the same transaction, so it must not be saved either.
    """
    from erlen_mail.outbox.models import OutboxMessage

    def note(session: Session, context: t.Any) -> None:
        # The identity map holds flushed rows weakly: remember that the transaction carries one.
        if any(isinstance(row, OutboxMessage) and row.subject == subject for row in session.new):
            session.info["failing_commit"] = True

    def fail(session: Session) -> None:
        if session.info.pop("failing_commit", False):
            raise RuntimeError("the database failed at commit")

    def forget(session: Session, *args: t.Any) -> None:
        session.info.pop("failing_commit", None)

    listeners = [("before_flush", note), ("before_commit", fail), ("after_rollback", forget)]
    for name, listener in listeners:
        sa.event.listen(Session, name, listener)
    try:
        yield
    finally:
        for name, listener in listeners:
            sa.event.remove(Session, name, listener)
