"""``erlen tasks``: the worker as a real process (SIGTERM, SIGKILL), list, retry, purge."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from conftest import TasksApp, broker_settings
from flask import Flask
from tasks_support import effects, rows, statuses, wait_for, worker_thread
from tasks_testplugin import boom, once, record, slow

import erlen_db
from erlen_tasks.models import DEAD, DONE, PENDING

TESTS = Path(__file__).parent


def start_worker(app: Flask, tmp_path: Path, *args: str, name: str = "worker") -> subprocess.Popen[str]:
    """``erlen tasks worker`` in a process of its own, on ``app``'s settings; its output goes to a file."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ERLEN_", "FLASK_"))}
    environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), environ.get("PYTHONPATH", "")])
    environ["ERLEN_DB_URL"] = str(app.config["DB_URL"])
    for key in ("TASKS_BROKER", "TASKS_URL", "TASKS_QUEUE_PREFIX", "TASKS_POLL_SECONDS", "TASKS_LEASE_SECONDS",
                "TASKS_REDIS_HEARTBEAT_SECONDS", "TASKS_REDIS_MAINTENANCE_CHANCE",
                "TASKS_REDIS_RECOVERY_SECONDS"):  # fmt: skip
        if key in app.config:
            environ[f"ERLEN_{key}"] = str(app.config[key])
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed by the process's end
    process = subprocess.Popen(
        [sys.executable, "-m", "erlen", "--app", "tasks_cliapp:create", "tasks", "worker", "--no-scheduler", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environ,
        cwd=tmp_path,
        text=True,
    )
    log.close()
    return process


def output(tmp_path: Path, name: str = "worker") -> str:
    return (tmp_path / f"{name}.log").read_text()


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def commit(app: Flask, job: t.Any, *args: t.Any, **kwargs: t.Any) -> int:
    with app.app_context():
        row_id = job.enqueue(*args, **kwargs).id
        erlen_db.session.commit()
    return t.cast(int, row_id)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sigterm_stops_the_worker_after_the_running_job(
    make_tasks_app: TasksApp, broker_kind: str, queue_prefix: str, tmp_path: Path
) -> None:
    app = make_tasks_app(broker_settings(broker_kind, queue_prefix))
    commit(app, slow, "finished", seconds=2.0, started_file=str(tmp_path / "started"))
    process = start_worker(app, tmp_path)
    try:
        wait_for(lambda: (tmp_path / "started").exists(), timeout=60, what="the job to start")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, output(tmp_path)
    finally:
        stop(process)
    log = output(tmp_path)
    assert "Worker started: broker " + broker_kind in log
    assert "Stopping after the running jobs end" in log
    assert "test.slow" in log and " done in " in log
    assert "Stopped: 1 done" in log
    assert effects(app) == ["finished"]
    assert set(statuses(app).values()) == {DONE}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_killed_after_the_commit_runs_the_job_again_with_its_effect_once(
    make_tasks_app: TasksApp, broker_kind: str, queue_prefix: str, tmp_path: Path
) -> None:
    app = make_tasks_app(
        {
            **broker_settings(broker_kind, queue_prefix),
            "TASKS_LEASE_SECONDS": 1.0,
            "TASKS_REDIS_HEARTBEAT_SECONDS": 1.0,
            "TASKS_REDIS_MAINTENANCE_CHANCE": 1000000,
        }
    )
    pause = tmp_path / "committed"
    commit(app, once, "charged", pause_file=str(pause))
    first = start_worker(app, tmp_path, name="first")
    try:
        # The job's effect and key are committed; the broker has not been told it is done.
        wait_for(pause.exists, timeout=60, what="the first run's commit")
        first.kill()
        first.wait(timeout=30)
    finally:
        stop(first)
    assert effects(app) == ["charged"]
    second = start_worker(app, tmp_path, name="second")
    try:
        wait_for(lambda: set(statuses(app).values()) == {DONE}, timeout=60, what="the job settled")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
        stop(second)
    assert "test.once" in output(tmp_path, "second"), output(tmp_path, "second")
    assert effects(app) == ["charged"]  # run twice, effect once
    # The database broker counts each try as it claims the row; the records of runs relayed to Redis or
    # RabbitMQ are written in batches, so the killed worker's last one may be missing.
    if broker_kind == "database":
        assert rows(app)[0].attempts == 2
    assert rows(app)[0].attempts >= 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_killed_before_the_commit_runs_the_job_again(
    make_tasks_app: TasksApp, queue_prefix: str, tmp_path: Path
) -> None:
    app = make_tasks_app({**broker_settings("database", queue_prefix), "TASKS_LEASE_SECONDS": 1.0})
    commit(app, slow, "once", seconds=60.0, started_file=str(tmp_path / "started"))
    first = start_worker(app, tmp_path, name="first")
    try:
        wait_for(lambda: (tmp_path / "started").exists(), timeout=60, what="the job to start")
        first.kill()
        first.wait(timeout=30)
    finally:
        stop(first)
    assert effects(app) == []
    (tmp_path / "started").unlink()
    with app.app_context():  # the rerun should not take a minute: shorten it (the row's arguments)
        import json

        from erlen_tasks.models import JobRecord

        row = erlen_db.session.get(JobRecord, rows(app)[0].id)
        assert row is not None
        message = json.loads(row.message)
        message["kwargs"]["seconds"] = 0.0
        row.message = json.dumps(message)
        erlen_db.session.commit()
    with worker_thread(app):
        wait_for(lambda: effects(app) == ["once"], timeout=30, what="the job to run again")
    assert rows(app)[0].attempts == 2


def test_list_retry_purge(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    dead_id = commit(app, boom, "x")
    done_id = commit(app, record, "y")
    with worker_thread(app):
        wait_for(lambda: statuses(app) == {f"test.boom#{dead_id}": DEAD, f"test.record#{done_id}": DONE}, what="both")
    commit(app, record, "later", delay=3600)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["tasks", "list", "--status", "all"])
    assert result.exit_code == 0, result.output
    assert "1 pending, 0 relayed, 0 running, 0 failed, 1 done, 1 dead" in result.output
    assert "RuntimeError: boom x" in result.output
    assert runner.invoke(args=["tasks", "list"]).output.count("test.") == 1  # open: the pending one

    result = runner.invoke(args=["tasks", "retry", str(done_id)])
    assert result.exit_code == 1 and f"Job {done_id} is done: only dead and failed jobs can be retried" in result.output
    assert "There is no job 999" in runner.invoke(args=["tasks", "retry", "999"]).output
    assert runner.invoke(args=["tasks", "retry"]).exit_code == 2
    result = runner.invoke(args=["tasks", "retry", "--dead"])
    assert result.exit_code == 0 and "Queued 1 job(s) again" in result.output
    [retried] = [row for row in rows(app) if row.id == dead_id]
    assert (retried.status, retried.attempts, retried.last_error) == (PENDING, 0, None)
    assert '"retries"' not in retried.message

    result = runner.invoke(args=["tasks", "purge"])
    assert result.exit_code == 0 and "Deleted 1 finished job(s)" in result.output
    assert sorted(row.id for row in rows(app)) == [dead_id, done_id + 1]
    result = runner.invoke(args=["tasks", "purge", "--status", "pending"], input="n\n")
    assert result.exit_code == 1 and len(rows(app)) == 2
    assert "Deleted 2 pending" in runner.invoke(args=["tasks", "purge", "--status", "pending", "--yes"]).output


def test_list_shows_the_type_and_message_of_a_database_error(tasks_app: Flask) -> None:
    """A job failing with a SQLAlchemy error was listed with its traceback's last line, ``(Background on this error
    at: https://sqlalche.me/e/...)``; its row (by the database broker, or by the Redis and RabbitMQ workers'
    tracking) now keeps the error's type and the driver's message, which ``erlen tasks list`` shows."""
    from tasks_testplugin import bad_query

    dead_id = commit(tasks_app, bad_query, "t_missing")
    with worker_thread(tasks_app) as reports:
        wait_for(lambda: statuses(tasks_app) == {f"test.select_missing#{dead_id}": DEAD}, what="the job dead")
    [row] = rows(tasks_app)
    sqlite = tasks_app.config["DB_URL"].startswith("sqlite")
    expected = (
        "OperationalError: (sqlite3.OperationalError) no such table: t_missing"
        if sqlite
        else 'ProgrammingError: (psycopg.errors.UndefinedTable) relation "t_missing" does not exist'
    )
    assert row.last_error == expected
    assert [r.error for r in reports] == [expected]  # the worker's line says the same
    result = tasks_app.test_cli_runner().invoke(args=["tasks", "list", "--status", "dead"])
    assert result.exit_code == 0, result.output
    assert "sqlalche.me" not in result.output
    assert ("no such table: t_missing" if sqlite else "(psycopg.errors.UndefinedTable) relation") in result.output


def test_a_traceback_s_error_is_its_type_and_first_meaningful_line() -> None:
    from erlen_tasks.failures import MAX_LENGTH, summarize_exception, summarize_traceback

    def traceback_of(exception: BaseException) -> str:
        import traceback

        try:
            raise exception
        except BaseException:
            return traceback.format_exc()

    assert summarize_traceback(traceback_of(RuntimeError("boom"))) == "RuntimeError: boom"
    assert summarize_traceback(traceback_of(KeyError("k"))) == "KeyError: 'k'"
    assert summarize_traceback(traceback_of(RuntimeError())) == "RuntimeError"
    assert summarize_traceback(traceback_of(ValueError("\n\nthe line\nmore"))) == "ValueError: the line"
    assert summarize_traceback("not a traceback\nlast words\n") == "last words"
    assert summarize_traceback("") is None and summarize_traceback(None) is None
    long = summarize_exception(RuntimeError("x" * 1000))
    assert len(long) == MAX_LENGTH and long.endswith("…")


def test_worker_once_runs_the_jobs_due_now_then_exits(tasks_app: Flask) -> None:
    """``erlen tasks worker --once``, as ``erlen mail worker --once``: the committed jobs due now, the periodic
    ones whose period is due, then it exits; a job for later and a failed one's retry (a minute away) are left."""
    from tasks_testplugin import fails_then_waits

    from erlen_tasks.models import FAILED

    ids = [commit(tasks_app, record, f"now{n}") for n in range(3)]
    later = commit(tasks_app, record, "later", delay=3600)
    failing = commit(tasks_app, fails_then_waits, "f")
    runner = tasks_app.test_cli_runner()
    result = runner.invoke(args=["tasks", "worker", "--once", "--threads", "2"])
    assert result.exit_code == 0, result.output
    assert "runs the jobs due now, then exits." in result.output
    assert "Scheduled test.minutely for the period of" in result.output
    assert result.output.rstrip().endswith("Done: 4 done, 1 retrying, 0 dead, 0 skipped.")
    assert sorted(effects(tasks_app)) == ["minutely", "now0", "now1", "now2"]
    found = statuses(tasks_app)
    assert [found[f"test.record#{n}"] for n in ids] == [DONE] * 3
    assert found[f"test.record#{later}"] == PENDING and found[f"test.fails_then_waits#{failing}"] == FAILED

    result = runner.invoke(args=["tasks", "worker", "--once", "--no-scheduler"])
    assert result.exit_code == 0 and result.output.rstrip().endswith("Done: 0 done, 0 retrying, 0 dead, 0 skipped.")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_worker_once_stops_with_the_database_s_error(make_tasks_app: TasksApp, tmp_path: Path) -> None:
    """Where a worker keeps trying a database it cannot reach, ``--once`` stops with the error, named."""
    import threading

    import click

    from erlen_tasks.cli import _run_once
    from erlen_tasks.worker import WorkerOptions

    make_tasks_app()  # the tables of the first app
    unreachable = make_tasks_app({"DB_URL": f"sqlite:///{tmp_path / 'missing' / 'jobs.sqlite3'}"})
    with unreachable.app_context(), pytest.raises(click.ClickException) as raised:
        _run_once(
            unreachable, threading.Event(), WorkerOptions(), scheduler=True, report=print, report_relay=print,
            report_schedule=print,
        )  # fmt: skip
    message = raised.value.message
    assert "unable to open database file" in message and "worker --once gives up" in message, message


def test_commands_without_the_table_say_what_to_do(make_db_app: t.Any) -> None:
    app = make_db_app(["tasks"], {})
    result = app.test_cli_runner().invoke(args=["tasks", "list"])
    assert result.exit_code == 1
    assert "The jobs table 'tasks_jobs' does not exist" in result.output and "erlen db upgrade" in result.output


def test_progress_lines_are_written_together_and_at_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    """A line per finished run, written in one call per period by a thread, and what is left at the close."""
    from erlen_tasks.cli import _PROGRESS_SECONDS, _ProgressLines, _stamp

    assert len(_stamp()) == 8 and _stamp().count(":") == 2
    lines = _ProgressLines()
    lines.add("first")
    lines.add("second")
    assert capsys.readouterr().out == ""  # kept, not written line by line
    lines.start()
    wait_for(lambda: "second" in capsys.readouterr().out, timeout=_PROGRESS_SECONDS * 20, what="the period's write")
    lines.add("last")
    lines.close()
    assert capsys.readouterr().out == "last\n"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_line_of_a_failed_run_says_when_it_is_tried_again(
    make_tasks_app: TasksApp, capsys: pytest.CaptureFixture[str]
) -> None:
    """The worker's line of a run to be retried said ``retrying in 0.063s``: the run's duration, read as its next
    try's delay, which is its backoff (here 60 to 120 s). The line now gives both, the delay the one the job's
    row got (its ETA less the failure's time)."""
    from tasks_testplugin import fails_then_waits

    from erlen_tasks.cli import _ProgressLines, _seconds, progress_reporter
    from erlen_tasks.models import FAILED, aware

    app = make_tasks_app()
    commit(app, fails_then_waits, "x")
    with worker_thread(app) as reports:
        wait_for(lambda: reports, what="the first try")
    [run] = reports
    [row] = rows(app)
    eta, failed_at = aware(row.eta), aware(row.updated_at)
    assert row.status == FAILED and eta is not None and failed_at is not None
    assert run.outcome == "retrying" and run.retry_in is not None
    assert run.retry_in == pytest.approx((eta - failed_at).total_seconds(), abs=0.002)
    assert 60 <= run.retry_in <= 120
    progress_reporter(_ProgressLines())(run)
    line = capsys.readouterr().err
    # The delay drawn is 60 to 120 s: "1 min", "1 min 23 s", ... or "2 min" (119.5 s and more).
    assert _seconds(run.retry_in).endswith(" min") or " min " in _seconds(run.retry_in)
    retry = f"retrying in {_seconds(run.retry_in)}:"
    assert f"test.fails_then_waits {run.message_id[:8]} failed after {run.seconds:.3f}s, {retry}" in line
    assert line.rstrip().endswith("RuntimeError: failed x")


def test_delays_are_written_for_people() -> None:
    from erlen_tasks.cli import _seconds

    assert [_seconds(s) for s in (0.063, 9.96, 15.2, 60, 83.4, 3600, 5400, 7190)] == [
        "0.1s", "10.0s", "15s", "1 min", "1 min 23 s", "1 h", "1 h 30 min", "2 h"
    ]  # fmt: skip


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_failed_job_waiting_for_its_next_try_is_not_queued_twice(
    make_tasks_app: TasksApp, broker_kind: str, queue_prefix: str
) -> None:
    """`erlen tasks retry` of a failed job: on the database broker its row is its next try, brought forward;
    on Redis and RabbitMQ the next try waits in the broker, so it is refused (it ran twice before)."""
    from tasks_testplugin import retried_later

    app = make_tasks_app(broker_settings(broker_kind, queue_prefix))
    row_id = commit(app, retried_later, "r")
    runner = app.test_cli_runner()
    with worker_thread(app):
        wait_for(lambda: statuses(app) == {f"test.retried_later#{row_id}": "failed"}, what="the first try failed")
        result = runner.invoke(args=["tasks", "retry", str(row_id)])
        if broker_kind == "database":
            assert result.exit_code == 0 and "Queued 1 job(s) again" in result.output, result.output
        else:
            assert result.exit_code == 1, result.output
            assert f"Job {row_id} is failed: its next try waits in {broker_kind}" in result.output
        # On Redis and RabbitMQ, by the broker's own retry, 3 to 6 seconds after the first try.
        wait_for(lambda: set(statuses(app).values()) == {DONE}, what="the job done")
    assert effects(app, "r") == ["r"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["retry", "99999999999999999999"], "99999999999999999999 is not in the range 1<=x<=2147483647"),
        (["retry", "0"], "0 is not in the range 1<=x<=2147483647"),
        (["list", "--limit", "99999999999999999999"], "is not in the range 1<=x<=2147483647"),
        (["purge", "--older-than", "1e300", "--yes"], "1e+300 is not a number of hours from 0 to 1,000,000"),
        (["purge", "--older-than", "nan"], "nan is not a number of hours from 0 to 1,000,000"),
        (["purge", "--older-than", "inf"], "inf is not a number of hours from 0 to 1,000,000"),
        (["purge", "--older-than", "-1"], "-1.0 is not a number of hours from 0 to 1,000,000"),
    ],
)
def test_numbers_out_of_range_are_usage_errors(make_tasks_app: TasksApp, args: list[str], message: str) -> None:
    """Not the database driver's OverflowError or datetime's ValueError as a traceback; nothing is deleted."""
    app = make_tasks_app()
    row_id = commit(app, record, "kept")
    result = app.test_cli_runner().invoke(args=["tasks", *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert message in result.output
    assert [row.id for row in rows(app)] == [row_id]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_on_a_queue_no_job_is_declared_on_is_refused(make_tasks_app: TasksApp, tmp_path: Path) -> None:
    """A mistyped --queue: a usage error naming the jobs' queues, not a worker that runs nothing, silently."""
    app = make_tasks_app()
    process = start_worker(app, tmp_path, "--queue", "slow", "--queue", "reprots")
    try:
        # Before, the worker ran (on nothing) until stopped.
        assert process.wait(timeout=60) == 2, output(tmp_path)
    finally:
        stop(process)
    log = output(tmp_path)
    assert "Invalid value for '--queue': no job is declared on the queue(s) 'reprots'" in log
    assert "the jobs' queues are 'default', 'slow'." in log
    assert "Worker started" not in log


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_redis_worker_killed_mid_job_leaves_it_to_the_next_worker_without_waiting_for_chance(
    make_tasks_app: TasksApp, queue_prefix: str, tmp_path: Path
) -> None:
    """With Dramatiq's default maintenance chance (one command in a thousand), the job of a worker killed -9
    waited, after its heartbeat expired, for a maintenance to come by: a quarter of an hour on average with an
    idle worker. The next worker's consumers put it back at their start and every TASKS_REDIS_RECOVERY_SECONDS."""
    app = make_tasks_app(
        {
            **broker_settings("redis", queue_prefix),
            "TASKS_REDIS_HEARTBEAT_SECONDS": 1.0,
            "TASKS_REDIS_RECOVERY_SECONDS": 0.5,
        }
    )
    pause = tmp_path / "committed"
    commit(app, once, "charged", pause_file=str(pause))
    first = start_worker(app, tmp_path, name="first")
    try:
        wait_for(pause.exists, timeout=60, what="the first run's commit")
        first.kill()
        first.wait(timeout=30)
    finally:
        stop(first)
    second = start_worker(app, tmp_path, name="second")
    try:
        wait_for(lambda: "test.once" in output(tmp_path, "second"), timeout=40, what="the job run again")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
        stop(second)
    assert effects(app) == ["charged"]  # run twice, effect once (its idempotency key)
