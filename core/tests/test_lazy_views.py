"""erlen.lazy_view: a route registered at once, its module imported by its first request."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, url_for

import erlen
from erlen.errors import PluginError


@pytest.fixture
def views_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"lazy_views_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        "import functools\n"
        "CALLS = []\n"
        "def shout(view):\n"
        "    @functools.wraps(view)\n"
        "    def wrapper(**values):\n"
        "        return view(**values).upper()\n"
        "    return wrapper\n"
        "@shout\n"
        "def greet(name):\n"
        "    CALLS.append(name)\n"
        "    return f'hello {name}'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_the_module_is_imported_by_the_first_request_and_urls_build_before(views_module: str) -> None:
    app = Flask(__name__)
    app.add_url_rule("/greet/<name>", "greet", erlen.lazy_view(f"{views_module}:greet"))
    assert views_module not in sys.modules
    with app.test_request_context():
        assert url_for("greet", name="ada") == "/greet/ada"
    assert views_module not in sys.modules
    client = app.test_client()
    assert client.get("/greet/ada").text == "HELLO ADA"  # through the real function and its decorator
    assert client.get("/greet/bob").text == "HELLO BOB"
    assert sys.modules[views_module].CALLS == ["ada", "bob"]


def test_the_stand_in_is_named_as_the_view(views_module: str) -> None:
    view = erlen.lazy_view(f"{views_module}:greet")
    assert (view.__name__, view.__qualname__, view.__module__) == ("greet", "greet", views_module)


@pytest.mark.parametrize("target", ["no_colon", ":greet", "module:", "module:a.b"])
def test_a_malformed_target_is_refused_at_once(target: str) -> None:
    with pytest.raises(PluginError, match=re.escape("package.module:function")):
        erlen.lazy_view(target)


@pytest.mark.parametrize("target", ["no_such_module_for_erlen:greet", "erlen:no_such_view"])
def test_a_missing_view_names_the_target_on_its_first_call(target: str) -> None:
    view = erlen.lazy_view(target)
    with pytest.raises(PluginError, match=re.escape(f"The view '{target}' cannot be loaded")):
        view()
