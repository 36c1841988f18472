"""erlen.defer_setup: set-up run at once, or, in an app the erlen command creates, when it is finished."""

from __future__ import annotations

import sys
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, url_for

import erlen
from erlen.errors import PluginError

if t.TYPE_CHECKING:
    from conftest import PluginFactory


#: A local plugin deferring two steps from erlen_init_app; each step appends to ``CALLS``.
STEPS_PLUGIN = """
import erlen

PLUGIN = erlen.Plugin(name="steps")
CALLS = []


@erlen.hookimpl
def erlen_init_app(app):
    CALLS.append("init")
    erlen.defer_setup(app, lambda app: CALLS.append("first"))
    erlen.defer_setup(app, lambda app: CALLS.append("second"))
"""


@pytest.fixture
def steps(plugins: PluginFactory) -> str:
    return plugins.module("deferred_steps_plugin", STEPS_PLUGIN)


def _app(module: str) -> tuple[Flask, list[str]]:
    app = erlen.create_app("deferred", {"PLUGINS": [module]})
    return app, sys.modules[module].CALLS  # type: ignore[attr-defined, no-any-return]


def test_an_app_runs_deferred_steps_at_once(steps: str) -> None:
    app, calls = _app(steps)
    assert calls == ["init", "first", "second"]
    assert not erlen.setup_deferred(app)
    erlen.finish_setup(app)  # nothing pending: nothing runs again
    assert calls == ["init", "first", "second"]


def test_an_app_created_while_deferring_runs_them_in_order_when_finished(steps: str) -> None:
    with erlen.deferring_setup():
        app, calls = _app(steps)
    assert calls == ["init"]
    assert erlen.setup_deferred(app)
    erlen.finish_setup(app)
    assert calls == ["init", "first", "second"]
    assert not erlen.setup_deferred(app)
    erlen.finish_setup(app)
    assert calls == ["init", "first", "second"]


def test_only_apps_created_inside_the_block_defer(steps: str) -> None:
    with erlen.deferring_setup():
        pass
    _, calls = _app(steps)
    assert calls == ["init", "first", "second"]


def test_a_step_that_finishes_the_set_up_again_does_not_run_steps_twice() -> None:
    calls: list[str] = []

    def first(app: Flask) -> None:
        calls.append("first")
        erlen.finish_setup(app)  # a step using another plugin's state: returns at once
        calls.append("first again")

    with erlen.deferring_setup():
        app = erlen.create_app("nested")
    erlen.defer_setup(app, first)
    erlen.defer_setup(app, lambda app: calls.append("second"))
    erlen.finish_setup(app)
    assert calls == ["first", "first again", "second"]


def test_a_failing_step_raises_from_finish_setup() -> None:
    with erlen.deferring_setup():
        app = erlen.create_app("failing")

    def fail(app: Flask) -> None:
        raise erlen.SettingError("bad setting", key="X", plugin="steps")

    erlen.defer_setup(app, fail)
    with pytest.raises(erlen.SettingError, match="bad setting"):
        erlen.finish_setup(app)


def test_a_flask_app_without_erlen_runs_steps_at_once() -> None:
    calls: list[str] = []
    erlen.defer_setup(Flask("plain"), lambda app: calls.append("ran"))
    assert calls == ["ran"]
    assert not erlen.setup_deferred(Flask("plain"))


@pytest.fixture
def views_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"deferred_views_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        "def greet(name):\n    return f'hello {name}'\ngreet.mark = 'marked'\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_deferred_view_is_the_function_itself_in_an_app_that_does_not_defer(views_module: str) -> None:
    app = erlen.create_app("views")
    view = erlen.deferred_view(app, f"{views_module}:greet")
    assert views_module in sys.modules
    assert view is sys.modules[views_module].greet  # type: ignore[attr-defined]


def test_deferred_view_is_a_stand_in_until_the_set_up_finishes(views_module: str) -> None:
    with erlen.deferring_setup():
        app = erlen.create_app("views")
    app.add_url_rule("/greet/<name>", "greet", erlen.deferred_view(app, f"{views_module}:greet"))
    erlen.lazy_views.defer_real_views(app)  # as erlen.Erlen does once the plugins' blueprints are registered
    assert views_module not in sys.modules
    with app.test_request_context():
        assert url_for("greet", name="ann") == "/greet/ann"
    assert not hasattr(app.view_functions["greet"], "mark")
    erlen.finish_setup(app)
    real = sys.modules[views_module].greet  # type: ignore[attr-defined]
    assert app.view_functions["greet"] is real
    assert app.test_client().get("/greet/ann").text == "hello ann"


def test_deferred_view_checks_its_target(views_module: str) -> None:
    app = erlen.create_app("views")
    with pytest.raises(PluginError, match=r"package\.module:function"):
        erlen.deferred_view(app, "no_function_named")
    with pytest.raises(PluginError, match="cannot be loaded"):
        erlen.deferred_view(app, f"{views_module}:missing")
