"""URL rules build their URLs as Werkzeug's do, with the builders compiled on first use."""

from __future__ import annotations

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
