"""An Erlen app asks once whether a view or hook is a coroutine function, not on every call."""

from __future__ import annotations

import functools
import typing as t

import flask.app
import pytest
from flask import Flask

import erlen
from erlen.sync_functions import MAX_REMEMBERED, RememberingEnsureSync


def _counting_checks(monkeypatch: pytest.MonkeyPatch) -> list[t.Any]:
    """Record every function Flask's ``ensure_sync`` asks ``iscoroutinefunction`` about."""
    asked: list[t.Any] = []
    original = flask.app.iscoroutinefunction

    def iscoroutinefunction(func: t.Any) -> bool:
        asked.append(func)
        return original(func)

    monkeypatch.setattr(flask.app, "iscoroutinefunction", iscoroutinefunction)
    return asked


def _app_with_hooks() -> Flask:
    app = erlen.create_app(__name__, environ={})

    @app.before_request
    def before() -> None:
        return None

    @app.after_request
    def after(response: flask.Response) -> flask.Response:
        response.headers["X-After"] = "yes"
        return response

    @app.teardown_request
    def teardown(exception: BaseException | None) -> None:
        return None

    @app.get("/")
    def index() -> str:
        return "ok"

    return app


def test_views_and_hooks_are_asked_about_once(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app_with_hooks()
    asked = _counting_checks(monkeypatch)
    client = app.test_client()

    first = client.get("/")
    after_first = len(asked)
    second = client.get("/")
    third = client.get("/")

    assert first.text == second.text == third.text == "ok"
    assert third.headers["X-After"] == "yes"
    assert after_first >= 4  # the view and the three hooks, at least, were asked about on the first request
    assert len(asked) == after_first  # and never again


def test_a_plain_flask_app_still_asks_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # The counting above sees what Flask does without Erlen: the same functions asked about on each request.
    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        return "ok"

    asked = _counting_checks(monkeypatch)
    client = app.test_client()
    client.get("/")
    after_first = len(asked)
    client.get("/")
    assert len(asked) == 2 * after_first > 0


def test_coroutine_functions_go_through_async_to_sync_every_time() -> None:
    app = erlen.create_app(__name__, environ={})
    made: list[t.Any] = []

    def async_to_sync(func: t.Any) -> t.Any:
        made.append(func)
        return lambda *args, **kwargs: "sync"

    app.async_to_sync = async_to_sync  # type: ignore[method-assign]

    async def view() -> str:
        return "async"

    assert app.ensure_sync(view)() == "sync"
    assert app.ensure_sync(view)() == "sync"
    assert made == [view, view]

    def plain() -> str:
        return "plain"

    assert app.ensure_sync(plain) is plain
    assert app.ensure_sync(plain) is plain


def test_an_app_class_overriding_ensure_sync_is_left_alone() -> None:
    calls: list[t.Any] = []

    class OwnFlask(Flask):
        def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
            calls.append(func)
            return func

    app = OwnFlask(__name__)
    erlen.Erlen(app, environ={})

    @app.get("/")
    def index() -> str:
        return "ok"

    client = app.test_client()
    client.get("/")
    client.get("/")
    assert calls.count(index) == 2
    assert not isinstance(app.ensure_sync, RememberingEnsureSync)


def test_remembered_functions_are_bounded() -> None:
    app = erlen.create_app(__name__, environ={})
    remembering = app.ensure_sync
    assert isinstance(remembering, RememberingEnsureSync)

    def plain(number: int) -> int:
        return number

    # Each partial is a new callable, as one made per call would be: the memo fills up to its bound, no further.
    for number in range(MAX_REMEMBERED + 10):
        partial = functools.partial(plain, number)
        assert app.ensure_sync(partial) is partial
    assert len(remembering.plain) <= MAX_REMEMBERED


def test_an_unhashable_callable_is_asked_about_each_time() -> None:
    app = erlen.create_app(__name__, environ={})

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> str:
            return "called"

    unhashable = Unhashable()
    assert app.ensure_sync(unhashable) is unhashable
    assert app.ensure_sync(unhashable)() == "called"
