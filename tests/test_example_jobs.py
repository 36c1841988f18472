"""The example app's background jobs: the admins' notification as a job, the daily digest (content, idempotency).

The app as ``erlen.toml`` builds it (with ``tasks``), on a fresh SQLite
database; its jobs run on the embedded database broker in a worker thread
(:func:`erlen_tasks.run_jobs`), its mail through the outbox to the
``memory`` backend.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask

pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")
pytest.importorskip("erlen_tasks", reason="erlen-tasks is not installed: pip install ./extensions/tasks")

import sqlalchemy as sa
from example_apps import example_app
from notes_app.notes.jobs import DIGEST_CRON, daily_digest, digest_day, notify_admins_job
from notes_app.notes.models import Note
from test_example_app import confirm_and_log_in

import erlen_db
from erlen_auth import find_user
from erlen_mail.testing import DeliveredMail, deliver_outbox
from erlen_tasks import enqueue, run_jobs
from erlen_tasks.models import JobRecord


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return example_app(tmp_path)


@pytest.fixture
def outbox(app: Flask) -> DeliveredMail:
    return DeliveredMail(app)


def jobs_of(app: Flask) -> list[tuple[str, str]]:
    with erlen_db.database_of(app).session_scope() as session:
        return [(row.job, row.status) for row in session.scalars(sa.select(JobRecord).order_by(JobRecord.id))]


def add_note(app: Flask, title: str, author: str, created_at: dt.datetime) -> None:
    with app.app_context():
        user = find_user(author)
        assert user is not None
        erlen_db.session.add(Note(title=title, body="...", author_id=user.id, created_at=created_at))
        erlen_db.session.commit()


def test_the_admins_notification_is_a_job_enqueued_with_the_note(app: Flask, outbox: DeliveredMail) -> None:
    client = confirm_and_log_in(app, outbox, "ada@example.com", "Ada")
    response = client.post("/notes/new", data={"title": "Looms", "body": "Punched cards."})
    assert response.status_code == 302
    assert ("notes.notify_admins", "pending") in jobs_of(app)  # committed with the note; no mail queued yet
    (notification,) = [m for m in outbox if m.subject == "New note: Looms"]  # the job ran, then the outbox
    assert notification.recipients == ["admin@example.com"]
    assert "http://localhost/notes/1" in notification.body
    assert ("notes.notify_admins", "done") in jobs_of(app)


def test_a_redelivered_notification_mails_once(app: Flask, outbox: DeliveredMail) -> None:
    client = confirm_and_log_in(app, outbox, "ada@example.com", "Ada")
    client.post("/notes/new", data={"title": "Once", "body": "Only once."})
    with app.app_context():  # the same run again, as a broker redelivers it after a crash
        notify_admins_job().enqueue(1, "http://localhost/notes/1")
        erlen_db.session.commit()
    assert [m.subject for m in outbox].count("New note: Once") == 1
    assert [status for job, status in jobs_of(app) if job == "notes.notify_admins"] == ["done", "done"]


def test_a_note_rolled_back_enqueues_no_notification(app: Flask, outbox: DeliveredMail) -> None:
    confirm_and_log_in(app, outbox, "ada@example.com", "Ada")
    with app.test_request_context():
        from notes_app.notes.views import notify_admins

        user = find_user("ada@example.com")
        note = Note(title="Draft", body="", author_id=user.id)
        erlen_db.session.add(note)
        erlen_db.session.flush()
        notify_admins(note)
        erlen_db.session.rollback()
    assert [job for job, _ in jobs_of(app) if job.startswith("notes.")] == []


def test_the_daily_digest_mails_the_admins_the_notes_of_the_day_before(app: Flask, outbox: DeliveredMail) -> None:
    confirm_and_log_in(app, outbox, "ada@example.com", "Ada")
    assert daily_digest().cron == DIGEST_CRON == "0 6 * * *"
    day = digest_day()
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    add_note(app, "Too early", "ada@example.com", start - dt.timedelta(seconds=1))
    add_note(app, "First of the day", "ada@example.com", start)
    add_note(app, "Last of the day", "admin@example.com", start + dt.timedelta(hours=23, minutes=59))
    add_note(app, "Today", "ada@example.com", start + dt.timedelta(days=1))
    with app.app_context():
        enqueue(daily_digest())  # as the scheduler does at 06:00: no arguments, the day before
        erlen_db.session.commit()
    assert run_jobs(app, queues=["notes"]) == 1
    (digest,) = [m for m in outbox if m.subject.startswith("Notes of")]
    assert digest.subject == f"Notes of {day.isoformat()}: 2 new"
    assert digest.recipients == ["admin@example.com"]
    assert '"First of the day" by ada@example.com: /notes/2' in digest.body
    assert '"Last of the day" by admin@example.com: /notes/3' in digest.body
    assert "Too early" not in digest.body and "Today" not in digest.body


def test_the_digest_of_a_day_is_mailed_once(app: Flask, outbox: DeliveredMail) -> None:
    day = digest_day()
    add_note(app, "Noted", "admin@example.com", dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC))
    with app.app_context():
        enqueue(daily_digest())  # two schedulers' runs, or one redelivered: one key, the day
        enqueue(daily_digest(), day=day)
        erlen_db.session.commit()
    assert run_jobs(app, queues=["notes"]) == 2
    assert [m.subject for m in outbox].count(f"Notes of {day.isoformat()}: 1 new") == 1
    with app.app_context():  # another day is another key
        enqueue(daily_digest(), day=day - dt.timedelta(days=1))
        erlen_db.session.commit()
    run_jobs(app, queues=["notes"])
    assert deliver_outbox(app).claimed == 0
    assert len([m for m in outbox if m.subject.startswith("Notes of")]) == 1  # that day had no notes: no mail
