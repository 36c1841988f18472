"""Templates render with the globals Jinja would give them, merged once per render rather than copied key by key."""

from __future__ import annotations

import collections
import typing as t

import pytest
from flask import Flask, render_template_string
from jinja2 import Template

import erlen
from erlen.templating import FlatGlobalsTemplate, flat_globals


def _app() -> Flask:
    app = erlen.create_app(__name__, {"SECRET_KEY": "templating-tests-secret-key-0123456789"}, environ={})
    app.jinja_env.globals["site_name"] = "Notes"
    return app


def test_an_erlen_app_loads_flat_globals_templates() -> None:
    assert _app().jinja_env.template_class is FlatGlobalsTemplate


def test_a_render_does_not_copy_the_globals_key_by_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # The cost this avoids: dict(ChainMap) calls ChainMap.__getitem__ (Python) once per global on every render.
    app = _app()
    reads: list[object] = []
    original = collections.ChainMap.__getitem__

    def counting(self: collections.ChainMap[str, t.Any], key: str) -> t.Any:
        reads.append(key)
        return original(self, key)

    monkeypatch.setattr(collections.ChainMap, "__getitem__", counting)
    with app.test_request_context():
        assert render_template_string("{{ site_name }}") == "Notes"
    assert reads == []


def test_globals_added_after_a_template_loaded_show_in_its_next_render() -> None:
    app = _app()
    app.jinja_env.globals["greeting"] = "Hello"
    source = "{{ greeting }}, {{ site_name }}"
    with app.test_request_context():
        assert render_template_string(source) == "Hello, Notes"
        app.jinja_env.globals["greeting"] = "Good night"
        assert render_template_string(source) == "Good night, Notes"


def test_a_templates_own_globals_win_over_the_environments() -> None:
    app = _app()
    template = app.jinja_env.from_string("{{ site_name }} / {{ range(2) | list }}", globals={"site_name": "Mine"})
    assert isinstance(template, FlatGlobalsTemplate)
    assert template.render() == "Mine / [0, 1]"
    assert template.render(site_name="Passed") == "Passed / [0, 1]"  # the render's variables win over both


def test_imported_macros_see_the_globals() -> None:
    app = _app()
    app.jinja_env.globals["suffix"] = "!"
    macros = app.jinja_env.from_string("{% macro shout(text) %}{{ text | upper }}{{ suffix }}{% endmacro %}")
    app.jinja_env.globals["macros"] = macros
    page = app.jinja_env.from_string(
        "{% from macros import shout %}{{ shout('hi') }} {% import macros as m with context %}{{ m.shout('yo') }}"
    )
    assert page.render() == "HI! YO!"


def test_flat_globals_keeps_the_first_maps_values_and_passes_other_mappings_through() -> None:
    chain = collections.ChainMap({"a": 1}, {"a": 2, "b": 3})
    assert flat_globals(chain) == dict(chain) == {"a": 1, "b": 3}
    plain = {"a": 1}
    assert flat_globals(plain) is plain


def test_an_app_keeps_its_own_template_class() -> None:
    class Own(Template):
        pass

    app = Flask(__name__)
    app.jinja_env.template_class = Own
    erlen.Erlen(app, config={"SECRET_KEY": "templating-tests-secret-key-0123456789"}, environ={})
    assert app.jinja_env.template_class is Own
