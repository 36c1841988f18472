"""URL rules build their URLs as Werkzeug's do, with the builders compiled on first use."""

from __future__ import annotations

import gc
import sys
import threading
import typing as t

import pytest
from flask import Blueprint, Flask, url_for
from werkzeug.routing import BuildError, Map, Rule

import erlen
from erlen.routing import LazyBuilderRule


def _add_routes(app: Flask) -> None:
    def view(**values: t.Any) -> str:
        return "ok"

    app.add_url_rule("/", "index", view)
    app.add_url_rule("/user/<name>", "user", view)
    app.add_url_rule("/post/<int:post_id>/<path:rest>", "post", view)
    app.add_url_rule("/page/", "page", view, defaults={"number": 1})
    app.add_url_rule("/page/<int:number>", "page", view)
    blueprint = Blueprint("notes", __name__)
    blueprint.add_url_rule("/<slug>", "show", view)
    app.register_blueprint(blueprint, url_prefix="/notes")


#: Endpoints and values covering static rules, converters, defaults and values the rule does not take.
BUILDS: list[tuple[str, dict[str, t.Any]]] = [
    ("index", {}),
    ("index", {"q": "a b", "tags": ["x", "y"]}),
    ("user", {"name": "ada lovelace/é"}),
    ("post", {"post_id": 7, "rest": "a/b c"}),
    ("page", {}),
    ("page", {"number": 1}),
    ("page", {"number": 3, "sort": "-id"}),
    ("notes.show", {"slug": "first"}),
    ("static", {"filename": "erlen.css"}),
]


def _urls(app: Flask) -> list[str]:
    with app.test_request_context("/", base_url="https://example.org/app"):
        return [url_for(endpoint, **values) for endpoint, values in BUILDS] + [
            url_for(endpoint, _external=True, **values) for endpoint, values in BUILDS
        ]


def test_an_erlen_app_builds_the_urls_a_flask_app_builds() -> None:
    flask_app = Flask(__name__)
    _add_routes(flask_app)
    app = erlen.create_app(__name__, environ={})
    _add_routes(app)

    assert app.url_rule_class is LazyBuilderRule
    assert _urls(app) == _urls(flask_app)
    assert _urls(app) == _urls(flask_app)  # again, with every builder compiled


def test_the_builders_are_compiled_when_a_url_is_first_built() -> None:
    url_map = Map([LazyBuilderRule("/user/<name>", endpoint="user")])
    rule = next(url_map.iter_rules())
    stand_in = rule._build_unknown

    adapter = url_map.bind("example.org")
    assert adapter.build("user", {"name": "ada", "tab": "notes"}) == "/user/ada?tab=notes"
    assert rule._build_unknown is not stand_in  # the compiled builder took its place
    assert adapter.build("user", {"name": "bob"}) == "/user/bob"
    assert adapter.build("user", {"name": "bob"}, append_unknown=False) == "/user/bob"


def test_a_missing_value_still_fails_to_build() -> None:
    app = erlen.create_app(__name__, environ={})
    _add_routes(app)
    with app.test_request_context("/"), pytest.raises(BuildError, match="Could not build url for endpoint 'user'"):
        url_for("user")


def test_an_app_keeps_its_own_rule_class() -> None:
    class OwnRule(Rule):
        pass

    app = Flask(__name__)
    app.url_rule_class = OwnRule
    erlen.Erlen(app, environ={})
    _add_routes(app)

    assert app.url_rule_class is OwnRule
    assert all(type(rule) is OwnRule for rule in app.url_map.iter_rules() if rule.endpoint != "static")


class _SwitchesThreads:
    """Garbage whose finalizer runs Python code: collected midway through a builder's compilation, it lets
    another thread run there, as any finalizer of an app's objects may."""

    def __init__(self) -> None:
        self.cycle = self

    def __del__(self) -> None:
        sum(range(3))


@pytest.fixture
def frequent_thread_switches() -> t.Iterator[None]:
    """Threads switch as often as they can and the garbage collector runs every few allocations."""
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(10, 1, 1)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("frequent_thread_switches")
def test_threads_building_their_first_urls_at_once_all_get_them() -> None:
    # CPython 3.11 failed such builds with "SystemError: AST constructor recursion depth mismatch" while
    # another thread compiled a builder too (python/cpython#106905): the builders compile under a lock.
    threads, rules = 8, 300
    app = erlen.create_app(__name__, environ={})
    for number in range(rules):
        app.add_url_rule(f"/r{number}/<int:a>/<path:b>/<c>", f"rule{number}", lambda **values: "ok")
    start = threading.Barrier(threads)
    built: list[str] = []
    failures: list[BaseException] = []

    def build_every_url(offset: int) -> None:
        with app.test_request_context("/"):
            start.wait(timeout=30)
            for number in range(rules):
                _SwitchesThreads()
                try:
                    built.append(url_for(f"rule{(number * 7 + offset) % rules}", a=1, b="x/y", c="z", q=2))
                except Exception as exc:  # what the test is about: any failure of a build
                    failures.append(exc)

    workers = [threading.Thread(target=build_every_url, args=(offset * 37,)) for offset in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert failures == []
    assert len(built) == threads * rules
    assert "/r5/1/x/y/z?q=2" in built
