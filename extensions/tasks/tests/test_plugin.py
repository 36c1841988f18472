"""The ``tasks`` plugin: settings, jobs collected from the hook, checks, idempotent runs."""

from __future__ import annotations

import typing as t

import dupe_plugin
import pytest
from conftest import TasksApp
from tasks_support import effects, statuses, wait_for, worker_thread
from tasks_testplugin import once

import erlen
import erlen_db
import erlen_tasks
from erlen import ConfigError, PluginError
from erlen.testing import assert_valid_plugin
from erlen_tasks import hookspecs, plugin
from erlen_tasks.models import DONE


def test_the_plugin_is_valid() -> None:
    assert_valid_plugin(plugin, hookspec_modules=[hookspecs], name="tasks")


def test_jobs_are_collected_from_the_hook(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    state = erlen_tasks.state_of(app)
    assert state.get_job("test.record").queue == "default"
    assert state.owners["test.once"] == "tasks_testplugin"
    assert state.broker_kind == "database" and not state.uses_relay


def test_closing_the_app_closes_its_broker(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    state = erlen_tasks.state_of(app)
    broker = state.broker
    assert state.broker is broker
    erlen.close_app(app)
    # Closed, and made anew when next used.
    assert state.broker is not broker


def test_a_broker_without_url_is_a_config_error(make_db_app: t.Any) -> None:
    with pytest.raises(ConfigError, match=r"TASKS_BROKER is 'redis' but TASKS_URL is empty: set it, such as 'redis://"):
        make_db_app(["tasks"], {"TASKS_BROKER": "redis"})
    with pytest.raises(Exception, match="TASKS_BROKER"):
        make_db_app(["tasks"], {"TASKS_BROKER": "kafka"})


@pytest.mark.parametrize(
    ("broker", "url", "found"),
    [
        ("redis", "http://user:s3cret@127.0.0.1:6379/0", "its scheme is 'http'"),
        ("redis", "amqp://guest:s3cret@127.0.0.1:5672/%2F", "its scheme is 'amqp'"),
        ("rabbitmq", "redis://:s3cret@127.0.0.1:6379/0", "its scheme is 'redis'"),
        ("rabbitmq", "127.0.0.1:5672", "it has no scheme"),
    ],
)
def test_a_broker_url_of_another_scheme_is_a_config_error(
    make_db_app: t.Any, broker: str, url: str, found: str
) -> None:
    """Refused when the app is made, naming the setting: the worker stopped on the client's bare ValueError."""
    with pytest.raises(ConfigError, match=rf"TASKS_URL must be a {broker} URL, beginning with") as raised:
        make_db_app(["tasks"], {"TASKS_BROKER": broker, "TASKS_URL": url})
    assert found in str(raised.value) and "s3cret" not in str(raised.value)


def test_the_broker_url_schemes_of_the_clients_are_taken(make_db_app: t.Any) -> None:
    for broker, url in [
        ("redis", "rediss://127.0.0.1:6380/0"),
        ("redis", "unix:///run/redis.sock"),
        ("rabbitmq", "AMQPS://guest:guest@127.0.0.1:5671/%2F"),
    ]:
        make_db_app(["tasks"], {"TASKS_BROKER": broker, "TASKS_URL": url})


def test_two_plugins_declaring_one_job_name(make_db_app: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PluginError, match=r"Plugins 'tasks_testplugin' and 'dupe_plugin' both declare a job named"):
        make_db_app(["tasks", "tasks_testplugin", "dupe_plugin"])
    monkeypatch.setattr(dupe_plugin, "BAD", True)
    with pytest.raises(PluginError, match=r"Plugin 'dupe_plugin': erlen_tasks_jobs returned 'not a job'"):
        make_db_app(["tasks", "dupe_plugin"])


def test_deploy_check_warns_about_sqlite_jobs(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    problems = [p.id for p in plugin.erlen_checks(app, deploy=True)]
    assert problems == (["tasks.W001"] if str(app.config["DB_URL"]).startswith("sqlite") else [])
    assert list(plugin.erlen_checks(app, deploy=False)) == []


def test_a_job_with_a_completed_key_is_skipped(make_tasks_app: TasksApp) -> None:
    app = make_tasks_app()
    with app.app_context():
        once.enqueue("order-1")
        once.enqueue("order-1")
        once.enqueue("order-2")
        erlen_db.session.commit()
    with worker_thread(app):
        wait_for(lambda: set(statuses(app).values()) == {DONE} and len(statuses(app)) == 3, what="three runs")
    assert sorted(effects(app)) == ["order-1", "order-2"]
