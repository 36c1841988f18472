"""Readiness and metrics through erlen-ops: the outbox and broker checks, the jobs counted by a real worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

pytest.importorskip("erlen_ops", reason="the operations hooks are erlen-ops'")

from conftest import broker_settings
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from tasks_support import effects, statuses, wait_for, worker_thread
from tasks_testplugin import boom, record

import erlen_db
from erlen.testing import free_port
from erlen_db.testing import MakeDbApp
from erlen_ops.names import MULTIPROCESS_VARIABLE
from erlen_tasks.models import DEAD, DONE

TESTS = Path(__file__).parent
PLUGINS = ("tasks", "tasks_testplugin", "ops")
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}
#: The checks and gauges read the database while a worker writes to it: on a loaded machine (CI's two cores) one
#: can take longer than the default 2 s, and would then be left out of the answer these tests read.
PATIENT = {"OPS_READY_TIMEOUT": 60.0, "OPS_METRICS_TIMEOUT": 60.0}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(autouse=True)
def _single_process_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    # This process's own values, unless a test turns the multiprocess mode on for its scrape.
    monkeypatch.delenv(MULTIPROCESS_VARIABLE, raising=False)


def readiness(app: Flask) -> tuple[int, dict[str, t.Any]]:
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()["checks"]


def scrape(app: Flask) -> Samples:
    response = app.test_client().get("/metrics", environ_base=LOCAL)
    assert response.status_code == 200, response.data
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.data.decode())
        for sample in family.samples
    }


def commit(app: Flask, job: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
    with app.app_context():
        job.enqueue(*args, **kwargs)
        erlen_db.session.commit()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_readyz_shows_the_outbox_and_the_broker(make_db_app: MakeDbApp, queue_prefix: str) -> None:
    settings = {**PATIENT, **broker_settings("redis", queue_prefix), "TASKS_HANDOFF": False, "OPS_READY_CACHE": 0}
    app = make_db_app(PLUGINS, settings, create_all=True)
    status, checks = readiness(app)
    assert status == 200
    assert checks["tasks.broker"]["status"] == "ok"
    assert {k: checks["tasks.outbox"][k] for k in ("status", "backlog", "oldest_seconds", "dead")} == {
        "status": "ok",
        "backlog": 0,
        "oldest_seconds": 0,
        "dead": 0,
    }
    commit(app, record, "waiting")  # the hand-off is off and no relay runs: it waits in the outbox
    commit(app, record, "later", delay=3600)  # not due: not a backlog
    status, checks = readiness(app)
    assert status == 200
    assert checks["tasks.outbox"]["backlog"] == 1
    assert checks["tasks.outbox"]["oldest_seconds"] >= 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_readyz_fails_while_the_broker_is_unreachable(make_db_app: MakeDbApp, queue_prefix: str, kind: str) -> None:
    port = free_port()  # nothing listens there
    url = f"redis://127.0.0.1:{port}/0" if kind == "redis" else f"amqp://guest:guest@127.0.0.1:{port}/%2F"
    settings = {
        **PATIENT,
        "TASKS_BROKER": kind,
        "TASKS_URL": url,
        "TASKS_QUEUE_PREFIX": queue_prefix,
        "OPS_READY_CACHE": 0,
    }
    app = make_db_app(PLUGINS, settings, create_all=True)
    status, checks = readiness(app)
    assert status == 503
    assert checks["tasks.broker"]["status"] == "fail"
    assert "127.0.0.1" not in str(checks)  # the error's type only
    assert checks["tasks.outbox"]["status"] == "ok"
    # Without the broker check, the app stays ready: its jobs wait in the outbox.
    quiet = make_db_app(PLUGINS, {**settings, "TASKS_HEALTH_BROKER": False})
    status, checks = readiness(quiet)
    assert status == 200 and "tasks.broker" not in checks


def test_the_database_broker_has_no_broker_check_and_counts_dead_jobs(
    make_db_app: MakeDbApp, queue_prefix: str
) -> None:
    app = make_db_app(
        PLUGINS, {**PATIENT, **broker_settings("database", queue_prefix), "OPS_READY_CACHE": 0}, create_all=True
    )
    commit(app, boom, "x")
    status, checks = readiness(app)
    assert status == 200 and set(checks) >= {"tasks.outbox"} and "tasks.broker" not in checks
    assert checks["tasks.outbox"]["backlog"] == 1  # no worker took it yet
    with worker_thread(app):
        wait_for(lambda: list(statuses(app).values()) == [DEAD], what="the job dead")
    status, checks = readiness(app)
    assert (checks["tasks.outbox"]["backlog"], checks["tasks.outbox"]["dead"]) == (0, 1)


def labels(job: str, queue: str = "default") -> tuple[tuple[str, str], ...]:
    return (("job", job), ("queue", queue))


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_a_worker_counts_its_runs(make_db_app: MakeDbApp, queue_prefix: str, kind: str) -> None:
    app = make_db_app(PLUGINS, {**PATIENT, **broker_settings(kind, queue_prefix), "OPS_METRICS": True}, create_all=True)
    commit(app, record, "a")
    commit(app, record, "b")
    commit(app, boom, "c")  # no retries: dead at its first failure
    found = scrape(app)
    assert found[("erlen_tasks_jobs_enqueued_total", labels("test.record"))] == 2
    assert found[("erlen_tasks_jobs_enqueued_total", labels("test.boom"))] == 1
    with worker_thread(app):
        wait_for(lambda: sorted(statuses(app).values()) == [DEAD, DONE, DONE], what="the three jobs")
        found = wait_for(
            lambda: (s := scrape(app)).get(("erlen_tasks_job_duration_seconds_count", labels("test.boom"))) and s,
            what="the last run counted",
        )
    assert sorted(effects(app)) == ["a", "b"]
    assert found[("erlen_tasks_jobs_started_total", labels("test.record"))] == 2
    assert found[("erlen_tasks_jobs_succeeded_total", labels("test.record"))] == 2
    assert found[("erlen_tasks_jobs_started_total", labels("test.boom"))] == 1
    assert found[("erlen_tasks_jobs_failed_total", labels("test.boom"))] == 1
    assert found[("erlen_tasks_jobs_dead_total", labels("test.boom"))] == 1
    assert found.get(("erlen_tasks_jobs_retried_total", labels("test.boom")), 0) == 0
    assert found[("erlen_tasks_job_duration_seconds_count", labels("test.record"))] == 2
    assert (found[("erlen_tasks_outbox_backlog", ())], found[("erlen_tasks_jobs_dead", ())]) == (0, 1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_process_counts_for_the_web_processes_metrics(
    make_db_app: MakeDbApp, queue_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prometheus-client's multiprocess mode: ``/metrics`` of a web process adds the worker process's counts."""
    app = make_db_app(
        PLUGINS, {**PATIENT, **broker_settings("redis", queue_prefix), "OPS_METRICS": True}, create_all=True
    )
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ERLEN_", "FLASK_"))}
    environ.update(
        PYTHONPATH=os.pathsep.join([str(TESTS), environ.get("PYTHONPATH", "")]),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        ERLEN_DB_URL=str(app.config["DB_URL"]),
        ERLEN_OPS_METRICS="true",
        **{f"ERLEN_{key}": str(app.config[key]) for key in ("TASKS_BROKER", "TASKS_URL", "TASKS_QUEUE_PREFIX")},
    )
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "erlen", "--app", "tasks_opsapp:create", "tasks", "worker", "--no-scheduler"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environ,
            cwd=tmp_path,
        )
    try:
        commit(app, record, "a")
        commit(app, boom, "b")
        wait_for(lambda: sorted(statuses(app).values()) == [DEAD, DONE], what="the two jobs", timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    assert worker.returncode == 0, log_path.read_text()
    monkeypatch.setenv(MULTIPROCESS_VARIABLE, str(metrics_dir))  # this scrape reads every process's files
    found = scrape(app)
    assert found[("erlen_tasks_jobs_started_total", labels("test.record"))] == 1
    assert found[("erlen_tasks_jobs_succeeded_total", labels("test.record"))] == 1
    assert found[("erlen_tasks_jobs_dead_total", labels("test.boom"))] == 1
    assert found[("erlen_tasks_job_duration_seconds_count", labels("test.boom"))] == 1
