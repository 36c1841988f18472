"""Jobs on the default set-up (SQLite, the database broker, the worker's threads) that read, then write."""

from __future__ import annotations

import pytest
from conftest import TasksApp
from tasks_support import effects, statuses, wait_for, worker_thread
from tasks_testplugin import count_then_write

import erlen_db
from erlen_tasks.models import DONE


@pytest.mark.parametrize("lone_reads", [True, False], ids=["lone-reads", "no-lone-reads"])
def test_concurrent_read_then_write_jobs_all_succeed_on_sqlite(
    make_tasks_app: TasksApp, database_url: str, lone_reads: bool
) -> None:
    """Eight runs of a job that counts (``count(*)``: the read begins its transaction), pauses, then inserts, on 4
    worker threads: before, the runs whose read overlapped another's commit failed at once with "database is
    locked" (a read transaction of SQLite's WAL cannot become a writer once another committed). A job's
    transaction now takes SQLite's write lock where it begins, so each waits for the one before it and all
    succeed, each seeing the others' commits. On PostgreSQL the runs overlap and succeed as before."""
    app = make_tasks_app({"DB_LONE_READS": lone_reads})
    runs = 8
    with app.app_context():
        for n in range(runs):
            count_then_write.enqueue(f"run{n}", pause=0.2)
        erlen_db.session.commit()
    with worker_thread(app, threads=4) as reports:
        wait_for(lambda: len(reports) == runs, what="every run to end")
    failed = [f"{r.job}: {r.error}" for r in reports if r.outcome != "done"]
    assert failed == []
    assert set(statuses(app).values()) == {DONE}
    written = effects(app)
    assert len(written) == runs
    if database_url.startswith("sqlite"):
        # One after the other: each run counted the effects of every run before it.
        assert sorted(int(label.split(":")[1]) for label in written) == list(range(runs))
