"""The admin's view of jobs: listed with their status and error, filtered, retried in bulk."""

from __future__ import annotations

import re
import typing as t

import pytest

pytest.importorskip("erlen_admin")
pytest.importorskip("erlen_auth")

from flask.testing import FlaskClient
from tasks_testplugin import boom, record

from erlen_auth.testing import FAST_HASHING, login_as
from erlen_tasks import enqueue
from erlen_tasks.models import DEAD, DONE, FAILED, PENDING, JobRecord

JOBS = "/admin/m/tasks_jobs/"


@pytest.fixture
def erlen_plugins() -> list[str]:
    return ["db", "forms", "auth", "admin", "tasks", "tasks_testplugin"]


@pytest.fixture
def erlen_config(database_url: str) -> dict[str, t.Any]:
    return {"DB_URL": database_url, **FAST_HASHING}


@pytest.fixture
def admin_client(client: FlaskClient, create_user: t.Any) -> FlaskClient:
    from erlen_forms.testing import csrf_token_for

    login_as(client, create_user("root@example.com", superuser=True))
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_for(client)
    return client


@pytest.fixture
def jobs(app: t.Any, db_session: t.Any) -> list[JobRecord]:
    with app.app_context():
        dead = enqueue(boom, "x", session=db_session, app=app)
        dead.status, dead.last_error = DEAD, "RuntimeError: boom x"
        done = enqueue(record, "y", session=db_session, app=app)
        done.status = DONE
        db_session.commit()
    return [dead, done]


def test_jobs_are_listed_and_filtered(admin_client: FlaskClient, jobs: list[JobRecord]) -> None:
    page = admin_client.get(JOBS)
    assert page.status_code == 200, page.text[:2000]
    assert "test.boom" in page.text and "RuntimeError: boom x" in page.text and "test.record" in page.text
    # The column of when a job runs reads as the abbreviation, not as a word "Eta".
    assert re.search(r"<th [^>]*>\s*(<a [^>]*>)?ETA\b", page.text) and ">Eta" not in page.text
    dead_only = admin_client.get(JOBS + "?f_status=dead")
    assert "test.boom" in dead_only.text and "test.record" not in dead_only.text


def test_dead_jobs_are_retried_from_the_list(
    admin_client: FlaskClient, jobs: list[JobRecord], db_session: t.Any
) -> None:
    ids = [str(job.id) for job in jobs]
    response = admin_client.post(JOBS + "action", data={"action": "retry", "ids": ids}, follow_redirects=True)
    assert response.status_code == 200, response.text[-1500:]
    assert "Queued 1 job(s) again. 1 not dead nor failed, left alone." in response.text
    db_session.expire_all()
    dead, done = (db_session.get(JobRecord, job.id) for job in jobs)
    assert (dead.status, dead.attempts, dead.last_error) == (PENDING, 0, None)
    assert done.status == DONE


def test_failed_jobs_are_left_alone_when_their_next_try_waits_in_redis(
    app: t.Any, admin_client: FlaskClient, jobs: list[JobRecord], db_session: t.Any
) -> None:
    """On Redis (and RabbitMQ) a failed job's next try is the broker's: retried from its row, it ran twice."""
    dead, done = jobs
    done.status = FAILED
    db_session.commit()
    # Asked when the action runs (the rows were enqueued on the database broker, so nothing was handed to Redis).
    app.config["TASKS_BROKER"] = "redis"
    ids = [str(dead.id), str(done.id)]
    response = admin_client.post(JOBS + "action", data={"action": "retry", "ids": ids}, follow_redirects=True)
    assert response.status_code == 200, response.text[-1500:]
    assert "Queued 1 job(s) again. 1 not dead, left alone." in response.text
    db_session.expire_all()
    assert [db_session.get(JobRecord, job.id).status for job in jobs] == [PENDING, FAILED]


def test_jobs_cannot_be_created_and_only_their_time_and_priority_edited(
    admin_client: FlaskClient, jobs: list[JobRecord]
) -> None:
    assert admin_client.get(JOBS + "new").status_code in (403, 404, 405)
    form = admin_client.get(f"{JOBS}{jobs[0].id}/edit")
    assert form.status_code == 200
    assert 'name="eta"' in form.text and 'name="priority"' in form.text and 'name="message"' not in form.text


# SQLite only: on PostgreSQL the checks leave a connection to the garbage collector (the warning erlen-admin's
# suite ignores, its source not found yet), which fails the next test.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_jobs_view_sorts_and_filters_on_indexed_columns_only(app: t.Any) -> None:
    """`erlen check` finds no unindexed sort or search in the jobs view (an app enabling tasks and admin,
    such as the example app, passes its checks)."""
    from erlen.checks import run_checks

    with app.app_context():
        found = [message for message in run_checks(app) if "tasks_jobs" in str(message)]
    assert found == []


def test_jobs_are_filtered_by_name(admin_client: FlaskClient, jobs: list[JobRecord]) -> None:
    page = admin_client.get(JOBS + "?f_job=test.record")
    assert page.status_code == 200, page.text[:2000]
    assert "test.record" in page.text and "RuntimeError: boom x" not in page.text
