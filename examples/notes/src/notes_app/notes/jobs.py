"""The notes plugin's background jobs, offered through erlen-tasks' ``erlen_tasks_jobs`` hook when ``tasks`` is enabled.

* ``notes.notify_admins`` (:func:`notify_admins_job`): mails the superusers
  about a new note. The request enqueues it with the note, in one
  transaction, and answers without rendering or queuing the mail itself; its
  idempotency key is the note's id, so a redelivered run mails nobody twice.
* ``notes.daily_digest`` (:func:`daily_digest`): every morning at 06:00 UTC, mails each superuser the
  notes written the day before (UTC). Its idempotency key is that day: a run
  delivered again after a crash (or enqueued twice for one day) mails nobody
  twice, as the key is recorded in the transaction that queues the mail.

Without ``tasks``, :func:`notify_admins` queues the notification in the
request, as it always did; the digest needs the tasks plugin.
"""

from __future__ import annotations

import datetime as dt
import functools
import typing as t

import sqlalchemy as sa
from flask import current_app

import erlen
from erlen_auth import User
from erlen_db import session

from .models import Note

if t.TYPE_CHECKING:
    from flask import Flask

#: When the digest goes out: 06:00 UTC, every day.
DIGEST_CRON = "0 6 * * *"


def tasks_enabled(app: Flask) -> bool:
    """Whether the app has the ``tasks`` plugin, so the notes plugin's mail goes through jobs."""
    return erlen.plugins_of(app).get("tasks") is not None


def notify_admins(note: Note, link: str) -> None:
    """Mail the superusers but the author about ``note``, in the current transaction.

    :param note: the new note (flushed: it has its id).
    :param link: the note's page, as an absolute URL.
    """
    from erlen_mail import deliver_template

    admins = session.scalars(sa.select(User.email).where(User.is_superuser, User.id != note.author_id)).all()
    if admins:
        deliver_template("notes/new_note", to=list(admins), note=note, link=link)


def _notify(note_id: int, link: str) -> None:
    note = session.get(Note, note_id)
    if note is None:
        return  # deleted before the job ran: nothing to tell
    notify_admins(note, link)


def digest_day(now: dt.datetime | None = None) -> dt.date:
    """The day a digest run covers: the day (UTC) before ``now`` (the current time by default)."""
    return ((now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC) - dt.timedelta(days=1)).date()


def notes_of(day: dt.date) -> list[Note]:
    """The notes written on ``day`` (UTC), oldest first."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return list(
        session.scalars(
            sa.select(Note)
            .where(Note.created_at >= start, Note.created_at < start + dt.timedelta(days=1))
            .order_by(Note.id)
        )
    )


def _send_digest(day: dt.date | None = None) -> None:
    """Queue the digest of ``day`` (yesterday, UTC, by default) to each superuser; nothing on a day without notes."""
    day = day or digest_day()
    notes = notes_of(day)
    if not notes:
        return
    urls = current_app.url_map.bind("localhost")  # the notes' paths: a job has no request to take the host from
    paths = {note.id: urls.build("notes.show", {"note_id": note.id}) for note in notes}
    for email in session.scalars(sa.select(User.email).where(User.is_superuser, User.is_active).order_by(User.id)):
        from erlen_mail import deliver_template

        deliver_template("notes/digest", to=email, day=day, notes=notes, paths=paths)


def _digest_key(day: dt.date | None = None) -> str:
    return (day or digest_day()).isoformat()


@functools.cache
def declared_jobs() -> tuple[t.Any, t.Any]:
    """The notification job and the digest, declared once per process (erlen-tasks imported on first call)."""
    from erlen_tasks import job

    notify = job(name="notes.notify_admins", queue="notes", idempotency_key=lambda note_id, link: str(note_id))(_notify)
    digest = job(name="notes.daily_digest", queue="notes", cron=DIGEST_CRON, idempotency_key=_digest_key)(_send_digest)
    return notify, digest


def notify_admins_job() -> t.Any:
    """The job that mails the superusers about a new note (``notes.notify_admins``)."""
    return declared_jobs()[0]


def daily_digest() -> t.Any:
    """The daily digest job (``notes.daily_digest``)."""
    return declared_jobs()[1]


__all__ = [
    "DIGEST_CRON",
    "daily_digest",
    "declared_jobs",
    "digest_day",
    "notes_of",
    "notify_admins",
    "notify_admins_job",
    "tasks_enabled",
]
