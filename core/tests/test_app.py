"""An Erlen app is a Flask app: what Flask users know keeps working."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Blueprint, Flask, render_template, render_template_string, session

import erlen
from erlen.testing import TESTING_SECRET_KEY


def test_classic_hello_world_with_only_the_constructor_replaced() -> None:
    app = erlen.create_app(__name__, environ={})

    @app.route("/")
    def hello_world() -> str:
        return "<p>Hello, World!</p>"

    assert isinstance(app, Flask)
    assert app.test_client().get("/").data == b"<p>Hello, World!</p>"


def test_dynamic_route() -> None:
    app = erlen.create_app(__name__, environ={})

    @app.route("/user/<username>")
    def show_user_profile(username: str) -> str:
        return f"User: {username}"

    @app.route("/post/<int:post_id>")
    def show_post(post_id: int) -> str:
        return f"Post {post_id}"

    client = app.test_client()
    assert client.get("/user/ada").data == b"User: ada"
    assert client.get("/post/42").data == b"Post 42"
    assert client.get("/post/not-a-number").status_code == 404


def test_render_template_string_autoescapes() -> None:
    app = erlen.create_app(__name__, environ={})

    @app.route("/hello/<name>")
    def hello(name: str) -> str:
        return render_template_string("Hello {{ name }}!", name=name)

    assert app.test_client().get("/hello/<b>x<b>").data == b"Hello &lt;b&gt;x&lt;b&gt;!"


def test_blueprints_sessions_and_error_handlers(tmp_path: Path) -> None:
    app = erlen.create_app(__name__, {"SECRET_KEY": TESTING_SECRET_KEY}, environ={})
    bp = Blueprint("shop", __name__, url_prefix="/shop")

    @bp.route("/cart/add/<item>")
    def add(item: str) -> str:
        session.setdefault("cart", []).append(item)
        session.modified = True
        return ",".join(session["cart"])

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        return "nothing here", 404

    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/shop/cart/add/apple").data == b"apple"
    assert client.get("/shop/cart/add/pear").data == b"apple,pear"
    assert client.get("/missing").data == b"nothing here"


def test_templates_and_static_files_of_the_app(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text("<h1>{{ title }}</h1>")
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "site.css").write_text("body { color: red }")
    app = erlen.create_app(__name__, environ={}, root_path=str(tmp_path))

    @app.route("/")
    def page() -> str:
        return render_template("page.html", title="Home")

    client = app.test_client()
    assert client.get("/").data == b"<h1>Home</h1>"
    response = client.get("/static/site.css")
    assert response.data == b"body { color: red }"
    response.close()


def test_debug_mode_from_config() -> None:
    app = erlen.create_app(__name__, {"DEBUG": True}, environ={})
    assert app.debug is True


def test_init_app_style_on_an_existing_flask_app(noop_plugin) -> None:
    blog = noop_plugin(
        "blog",
        body="""
        @erlen.hookimpl
        def erlen_init_app(app):
            app.extensions["blog"] = "ready"
        """,
    )
    app = Flask(__name__)
    app.config["PLUGINS"] = [blog]
    extension = erlen.Erlen()
    registry = extension.init_app(app)
    assert app.extensions["blog"] == "ready"
    assert erlen.plugins_of(app) is registry
    assert registry.names() == ["erlen", "blog"]


def test_constructor_style_attaches_at_once() -> None:
    app = Flask(__name__)
    erlen.Erlen(app, environ={})
    assert "erlen" in app.extensions


def test_attaching_twice_is_refused() -> None:
    app = erlen.create_app(__name__, environ={})
    with pytest.raises(erlen.ErlenError, match="already attached"):
        erlen.Erlen(app)


def test_plugins_of_a_plain_flask_app_says_how_to_attach() -> None:
    with pytest.raises(erlen.ErlenError, match=r"create it with erlen.create_app\(\)"):
        erlen.plugins_of(Flask(__name__))


def test_plugins_of_current_app() -> None:
    app = erlen.create_app(__name__, environ={})
    with app.app_context():
        assert erlen.plugins_of() is app.extensions["erlen"]


def test_one_process_holds_several_apps_with_different_plugins(noop_plugin) -> None:
    counter = noop_plugin(
        "counter",
        body="""
        @erlen.hookimpl
        def erlen_init_app(app):
            app.extensions["counter"] = {"calls": 0}
        """,
    )
    first = erlen.create_app(__name__, {"PLUGINS": [counter]}, environ={})
    second = erlen.create_app(__name__, environ={})
    assert "counter" in first.extensions
    assert "counter" not in second.extensions


def test_close_app_closes_every_plugin_in_reverse_order(plugins, noop_plugin) -> None:
    plugins.module("close_log", "closed = []\n")
    body = """
    import close_log

    @erlen.hookimpl
    def erlen_app_close(app):
        close_log.closed.append((PLUGIN.name, app.name))
        if PLUGIN.name == "cache":
            raise ConnectionError("cache server gone")
    """
    store = noop_plugin("store", body=body)
    cache = noop_plugin("cache", requires=("store",), body=body)
    web = noop_plugin("web", requires=("cache",), body=body)
    app = erlen.create_app("closing_app", {"PLUGINS": [store, cache, web]}, environ={})
    with pytest.raises(erlen.PluginHookError, match=r"Plugin 'cache' failed in erlen_app_close: ConnectionError"):
        erlen.close_app(app)
    import close_log

    # web closes before cache before store, and cache's failure does not keep store open.
    assert close_log.closed == [("web", "closing_app"), ("cache", "closing_app"), ("store", "closing_app")]


def test_close_app_refuses_a_plain_flask_app() -> None:
    with pytest.raises(erlen.ErlenError, match="has no Erlen plugins"):
        erlen.close_app(Flask("plain"))
