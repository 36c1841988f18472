"""``background_worker``: the worker in a thread of the process, for development servers, demos and tests."""

from __future__ import annotations

import pytest
from conftest import TasksApp
from flask import Flask
from tasks_support import effects, statuses, wait_for
from tasks_testplugin import record

import erlen
import erlen_db
from erlen_tasks import UnknownQueueError, background_worker, run_jobs, waiting_jobs
from erlen_tasks.models import DONE


def test_runs_committed_jobs_while_the_block_lasts(tasks_app: Flask) -> None:
    reports = []
    with background_worker(tasks_app, scheduler=False, report=reports.append) as thread:
        with tasks_app.app_context():
            record.enqueue("in the background")
            erlen_db.session.commit()
        wait_for(lambda: effects(tasks_app) == ["in the background"], what="the job's effect")
        wait_for(lambda: set(statuses(tasks_app).values()) == {DONE}, what="the job done")
        assert thread.is_alive()
    assert not thread.is_alive()  # stopped with the block
    assert [(r.job, r.outcome) for r in reports] == [("test.record", "done")]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_job_enqueued_after_the_block_waits_for_a_worker(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    # Without the scheduler: its job of the current minute could be enqueued, and run, before the block ends.
    with background_worker(app, scheduler=False):
        pass
    with app.app_context():
        record.enqueue("later")
        erlen_db.session.commit()
    assert effects(app) == []
    assert set(statuses(app).values()) == {"pending"}


def test_needs_the_tasks_plugin(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app([])
    with pytest.raises(erlen.PluginNotEnabledError, match="tasks"), background_worker(app):
        pass  # pragma: no cover - never entered


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_runs_the_scheduler_by_default(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    with background_worker(app):
        wait_for(lambda: effects(app, "minutely"), what="the periodic job of the current minute")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unknown_queue_is_refused_naming_the_declared_ones(make_tasks_app: TasksApp) -> None:
    """A mistyped queue: before, run_jobs returned 0 and ran nothing (the job was left waiting, the test went
    on as if it had run), as `erlen tasks worker --queue` refuses it, with the same message."""
    app = make_tasks_app()
    with app.app_context():
        record.enqueue("waiting")
        erlen_db.session.commit()
    message = "no job is declared on the queue(s) 'defualt'; the jobs' queues are 'default', 'slow'."
    with pytest.raises(UnknownQueueError) as caught:
        run_jobs(app, queues=["defualt"])
    assert str(caught.value) == message
    with pytest.raises(UnknownQueueError, match="'defualt'; the jobs' queues are 'default', 'slow'"):
        waiting_jobs(app, ["defualt"])
    with pytest.raises(UnknownQueueError, match="'defualt'"), background_worker(app, queues=["slow", "defualt"]):
        pass  # pragma: no cover - never entered
    assert set(statuses(app).values()) == {"pending"}
    assert run_jobs(app, queues=["default"]) == 1
    assert effects(app) == ["waiting"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_single_queue_name_instead_of_a_list_is_refused_saying_so(make_tasks_app: TasksApp) -> None:
    """``queues="default"``: before, each letter was taken for a queue ("no job is declared on the queue(s) 'd',
    'e', 'f', ..."), a message that does not point at the mistake."""
    app = make_tasks_app()
    with app.app_context():
        record.enqueue("waiting")
        erlen_db.session.commit()
    message = r"queues is a list of queue names: pass \['default'\], not 'default'\."
    with pytest.raises(TypeError, match=message):
        run_jobs(app, queues="default")
    with pytest.raises(TypeError, match=message):
        waiting_jobs(app, "default")
    with pytest.raises(TypeError, match=message), background_worker(app, queues="default"):
        pass  # pragma: no cover - never entered
    assert set(statuses(app).values()) == {"pending"}


def test_jobs_enqueued_inside_a_rolled_back_transaction_are_refused_in_words(make_tasks_app: TasksApp) -> None:
    # Under db_session the jobs a test enqueues live on its transaction's connection: run_jobs read others and
    # answered 0 runs (or, on SQLite in memory, "no such table: tasks_jobs"), the job untried.
    app = make_tasks_app()
    with erlen_db.rolled_back(app, create_tables=False):
        with app.app_context():
            record.enqueue("in the test's transaction")
            erlen_db.session.commit()  # only releases a savepoint
        for function in (run_jobs, waiting_jobs):
            with pytest.raises(
                RuntimeError, match=rf"^{function.__name__}\(\) reads the committed jobs on connections"
            ):
                function(app)
    assert not erlen_db.database_of(app).in_rolled_back_transaction
    assert waiting_jobs(app) == 0  # nothing was committed
