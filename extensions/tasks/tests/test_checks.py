"""``erlen check --deploy``: where jobs wait, and whether Redis keeps them through a restart and a full memory."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from conftest import TasksApp
from flask import Flask
from tasks_support import OwnRedis

from erlen.testing import free_port
from erlen_tasks import plugin

pytest.importorskip("redis")


def deploy_ids(app: Flask) -> list[str]:
    with app.app_context():
        return [problem.id for problem in plugin.erlen_checks(app, deploy=True)]


@pytest.fixture
def redis_app(make_tasks_app: TasksApp, tmp_path: Path) -> t.Iterator[t.Callable[..., Flask]]:
    """An app whose broker is a redis-server of the test's own, started with the given options."""
    servers: list[OwnRedis] = []

    def make(*options: str) -> Flask:
        server = OwnRedis(tmp_path / f"redis-{len(servers)}", *options)
        servers.append(server)
        server.start()
        return make_tasks_app({"TASKS_BROKER": "redis", "TASKS_URL": server.url})

    yield make
    for server in servers:
        server.stop()


def test_redis_without_an_append_only_file_is_a_warning(redis_app: t.Callable[..., Flask]) -> None:
    app = redis_app()
    assert deploy_ids(app) == ["tasks.W002"]
    with app.app_context():
        assert list(plugin.erlen_checks(app, deploy=False)) == []


def test_redis_evicting_any_key_is_a_warning(redis_app: t.Callable[..., Flask]) -> None:
    app = redis_app("--appendonly", "yes", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    assert deploy_ids(app) == ["tasks.W003"]


def test_a_durable_redis_passes(redis_app: t.Callable[..., Flask]) -> None:
    app = redis_app("--appendonly", "yes", "--maxmemory-policy", "volatile-lru")
    assert deploy_ids(app) == []


def test_an_unreachable_redis_is_named_without_its_password(make_tasks_app: TasksApp) -> None:
    port = free_port()
    app = make_tasks_app(
        {"TASKS_BROKER": "redis", "TASKS_URL": f"redis://:hunter2secret@127.0.0.1:{port}/0", "TASKS_HEALTH_TIMEOUT": 1}
    )
    with app.app_context():
        (problem,) = plugin.erlen_checks(app, deploy=True)
    assert problem.id == "tasks.W004"
    assert f"Redis at 127.0.0.1:{port} (TASKS_URL)" in problem.message
    assert "hunter2secret" not in problem.message + problem.hint


def test_erlen_check_deploy_prints_the_warning(redis_app: t.Callable[..., Flask]) -> None:
    app = redis_app()
    result = app.test_cli_runner().invoke(args=["check", "--deploy"])
    assert "tasks.W002" in result.output
    assert "appendonly yes" in result.output
