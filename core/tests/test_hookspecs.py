"""Each core hook, exercised through a plugin, as a third-party author would use it."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import render_template, render_template_string, url_for

import erlen


def test_every_lifecycle_hook(noop_plugin, tmp_path: Path) -> None:
    templates = tmp_path / "blog_templates"
    (templates / "blog").mkdir(parents=True)
    (templates / "blog" / "index.html").write_text("{{ site_name }}|{{ 'x'|shout }}|{{ per_request }}")
    static = tmp_path / "blog_static"
    static.mkdir()
    (static / "blog.css").write_text("p { }")
    plugin = noop_plugin(
        "blog",
        body=f"""
        import click
        from flask import Blueprint, render_template

        bp = Blueprint("blog", __name__)

        @bp.route("/")
        def index():
            return render_template("blog/index.html")

        @erlen.hookimpl
        def erlen_init_app(app):
            app.extensions["blog"] = {{"ready": False}}

        @erlen.hookimpl
        def erlen_blueprints(app):
            return [(bp, {{"url_prefix": "/blog"}})]

        @erlen.hookimpl
        def erlen_template_folders():
            return [{str(templates)!r}]

        @erlen.hookimpl
        def erlen_template_globals():
            return {{"site_name": "My blog"}}

        @erlen.hookimpl
        def erlen_template_filters():
            return {{"shout": lambda text: text.upper() + "!"}}

        @erlen.hookimpl
        def erlen_template_context():
            return {{"per_request": "ctx"}}

        @erlen.hookimpl
        def erlen_static_folder():
            return {str(static)!r}

        @erlen.hookimpl
        def erlen_shell_context():
            return {{"answer": 42}}

        @click.command("publish")
        def publish():
            click.echo("published")

        @erlen.hookimpl
        def erlen_cli_commands(cli):
            return [publish]

        @erlen.hookimpl
        def erlen_app_ready(app):
            app.extensions["blog"]["ready"] = True
        """,
    )
    app = erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    assert app.extensions["blog"]["ready"] is True
    client = app.test_client()
    assert client.get("/blog/").data == b"My blog|X!|ctx"
    response = client.get("/static/plugins/blog/blog.css")
    assert response.data == b"p { }"
    response.close()
    assert client.get("/static/plugins/other/blog.css").status_code == 404
    assert client.get("/static/plugins/blog/../blog_templates/blog/index.html").status_code == 404
    with app.test_request_context():
        assert url_for("erlen_plugin_static", plugin="blog", filename="blog.css") == "/static/plugins/blog/blog.css"
    assert app.make_shell_context()["answer"] == 42
    assert app.test_cli_runner().invoke(args=["publish"]).output == "published\n"


def test_app_templates_override_plugin_templates_and_later_plugins_override_earlier(
    noop_plugin, tmp_path: Path
) -> None:
    def folder(name: str, text: str) -> str:
        path = tmp_path / name
        path.mkdir()
        (path / "page.html").write_text(text)
        return str(path)

    base = noop_plugin(
        "base", body=f"@erlen.hookimpl\ndef erlen_template_folders():\n    return [{folder('base', 'base')!r}]\n"
    )
    theme = noop_plugin(
        "theme",
        requires=("base",),
        body=f"@erlen.hookimpl\ndef erlen_template_folders():\n    return [{folder('theme', 'theme')!r}]\n",
    )
    app = erlen.create_app(__name__, {"PLUGINS": [theme, base]}, environ={}, root_path=str(tmp_path))
    with app.test_request_context():
        assert render_template("page.html") == "theme"
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text("app")
    app = erlen.create_app(__name__, {"PLUGINS": [theme, base]}, environ={}, root_path=str(tmp_path))
    with app.test_request_context():
        assert render_template("page.html") == "app"


def test_relative_template_folder_is_relative_to_the_plugin_module(plugins) -> None:
    plugins.module(
        "relplug.plugin",
        "import erlen\n@erlen.hookimpl\ndef erlen_template_folders():\n    return ['templates']\n",
    )
    folder = plugins.root / "relplug" / "templates"
    folder.mkdir()
    (folder / "rel.html").write_text("relative")
    app = erlen.create_app(__name__, {"PLUGINS": ["relplug.plugin"]}, environ={})
    with app.test_request_context():
        assert render_template("rel.html") == "relative"


def test_unused_per_request_hooks_add_no_handlers() -> None:
    # With no security headers to add, the core adds no after_request function of its own either.
    plain = erlen.create_app(__name__, {"SECURITY_HEADERS": {}}, environ={})
    assert not any(plain.before_request_funcs.values())
    assert not any(plain.after_request_funcs.values())
    assert not any(plain.teardown_request_funcs.values())
    assert len(plain.template_context_processors[None]) == 1  # Flask's own
    assert plain.shell_context_processors == []


def test_per_request_hooks_run_when_implemented(noop_plugin) -> None:
    plugin = noop_plugin(
        "stamp",
        body="""
        from flask import request
        seen = []

        @erlen.hookimpl
        def erlen_before_request():
            if request.path == "/blocked":
                return "blocked by plugin", 403

        @erlen.hookimpl
        def erlen_after_request(response):
            response.headers["X-Stamp"] = "yes"

        @erlen.hookimpl
        def erlen_teardown_request(exception):
            seen.append(exception)
        """,
    )
    app = erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})

    @app.route("/")
    def index() -> str:
        return "ok"

    client = app.test_client()
    response = client.get("/")
    assert response.data == b"ok" and response.headers["X-Stamp"] == "yes"
    blocked = client.get("/blocked")
    assert blocked.status_code == 403 and blocked.data == b"blocked by plugin"
    import sys

    assert sys.modules[plugin].seen == [None, None]


def test_per_request_hooks_run_in_pluggy_order_and_may_leave_out_their_argument(noop_plugin) -> None:
    # The per-request hooks are called without pluggy's dispatch (built once when the app is made):
    # its order (tryfirst) and its leniency (an implementation taking fewer arguments) must hold.
    first = noop_plugin(
        "first",
        body="""
        calls = []

        @erlen.hookimpl
        def erlen_before_request():
            calls.append("first before")

        @erlen.hookimpl
        def erlen_after_request():
            calls.append("first after")

        @erlen.hookimpl
        def erlen_teardown_request():
            calls.append("first teardown")
        """,
    )
    second = noop_plugin(
        "second",
        body="""
        from flask import request
        calls = []

        @erlen.hookimpl(tryfirst=True)
        def erlen_before_request():
            calls.append("second before")
            if request.path == "/stop":
                return "stopped", 409

        @erlen.hookimpl
        def erlen_after_request(response):
            response.headers["X-Second"] = "yes"

        @erlen.hookimpl
        def erlen_teardown_request(exception):
            calls.append(f"second teardown {exception!r}")
        """,
    )
    app = erlen.create_app(__name__, {"PLUGINS": [first, second]}, environ={})

    @app.route("/")
    def index() -> str:
        return "ok"

    import sys

    calls = sys.modules[second].calls = sys.modules[first].calls
    response = app.test_client().get("/")
    assert response.data == b"ok" and response.headers["X-Second"] == "yes"
    assert calls == ["second before", "first before", "first after", "first teardown", "second teardown None"]
    calls.clear()
    stopped = app.test_client().get("/stop")
    assert (stopped.status_code, stopped.data) == (409, b"stopped")
    assert calls == ["second before", "first after", "first teardown", "second teardown None"]


def test_command_conflicts_name_both_plugins(noop_plugin) -> None:
    body = """
    import click
    @erlen.hookimpl
    def erlen_cli_commands():
        return [click.Command("sync")]
    """
    first, second = noop_plugin("first", body=body), noop_plugin("second", body=body)
    with pytest.raises(erlen.CommandConflictError, match=r"Plugins 'first' and 'second' both add the command 'sync'"):
        erlen.create_app(__name__, {"PLUGINS": [first, second]}, environ={})


def test_command_hidden_by_flask_is_refused(noop_plugin) -> None:
    plugin = noop_plugin(
        "runner",
        body="import click\n@erlen.hookimpl\ndef erlen_cli_commands():\n    return [click.Command('run')]\n",
    )
    with pytest.raises(erlen.CommandConflictError, match="which Flask's CLI already provides"):
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})


def test_plugin_extends_a_group_of_the_plugin_it_requires(noop_plugin) -> None:
    db = noop_plugin(
        "db",
        body="""
        from flask.cli import AppGroup
        group = AppGroup("db")
        @erlen.hookimpl
        def erlen_cli_commands():
            return [group]
        """,
    )
    migrate = noop_plugin(
        "migrate",
        requires=("db",),
        body="""
        import click
        @click.command("upgrade")
        def upgrade():
            click.echo("upgraded")
        @erlen.hookimpl
        def erlen_cli_commands(cli):
            cli.commands["db"].add_command(upgrade)
            return []
        """,
    )
    app = erlen.create_app(__name__, {"PLUGINS": [migrate, db]}, environ={})
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).output == "upgraded\n"


def test_blueprint_hook_must_return_blueprints(noop_plugin) -> None:
    plugin = noop_plugin("bad", body="@erlen.hookimpl\ndef erlen_blueprints():\n    return ['/x']\n")
    with pytest.raises(erlen.PluginError, match=r"Plugin 'bad': erlen_blueprints returned str"):
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})


def test_blueprint_name_clash_names_the_plugin(noop_plugin) -> None:
    body = """
    from flask import Blueprint
    @erlen.hookimpl
    def erlen_blueprints():
        bp = Blueprint("shared", __name__)
        bp.add_url_rule("/" + PLUGIN.name, "x", lambda: "x")
        return [bp]
    """
    first, second = noop_plugin("first", body=body), noop_plugin("second", body=body)
    with pytest.raises(erlen.PluginError, match=r"Plugin 'second': blueprint 'shared' cannot be registered"):
        erlen.create_app(__name__, {"PLUGINS": [first, second]}, environ={})


def test_failing_hook_at_startup_names_the_plugin_and_keeps_the_traceback(noop_plugin) -> None:
    plugin = noop_plugin(
        "crashy",
        body="@erlen.hookimpl\ndef erlen_init_app(app):\n    raise KeyError('missing thing')\n",
    )
    with pytest.raises(erlen.PluginHookError) as caught:
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    message = str(caught.value)
    assert message.startswith("Plugin 'crashy' failed in erlen_init_app: KeyError: 'missing thing'")
    assert "Original traceback:" in message and "raise KeyError('missing thing')" in message


def test_template_string_sees_plugin_globals(noop_plugin) -> None:
    plugin = noop_plugin("g", body="@erlen.hookimpl\ndef erlen_template_globals():\n    return {'brand': 'Erlen'}\n")
    app = erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    with app.test_request_context():
        assert render_template_string("{{ brand }}") == "Erlen"


def test_before_request_hook_runs_ahead_of_plugin_registered_handlers(noop_plugin) -> None:
    guard = noop_plugin(
        "guard",
        body="@erlen.hookimpl\ndef erlen_before_request():\n    return 'stopped by the hook', 403\n",
    )
    eager = noop_plugin(
        "eager",
        body="""
        @erlen.hookimpl
        def erlen_init_app(app):
            @app.before_request
            def count():
                app.extensions["eager_calls"] = app.extensions.get("eager_calls", 0) + 1
        """,
    )
    app = erlen.create_app(__name__, {"PLUGINS": [eager, guard]}, environ={})
    assert app.test_client().get("/").status_code == 403
    assert "eager_calls" not in app.extensions


@pytest.mark.parametrize(
    ("hook", "returned", "message"),
    [
        ("erlen_template_folders", "'templates'", r"erlen_template_folders returned str 'templates'; it must return"),
        ("erlen_blueprints", "flask.Blueprint('one', __name__)", r"erlen_blueprints returned Blueprint; it must"),
        ("erlen_cli_commands", "click.Command('hello')", r"erlen_cli_commands returned Command; it must return"),
        ("erlen_settings", "erlen.Setting('URL', default='')", r"erlen_settings returned Setting; it must return"),
        ("erlen_template_globals", "[len]", r"erlen_template_globals returned list; return a dict"),
        ("erlen_template_filters", "'upper'", r"erlen_template_filters returned str; return a dict"),
    ],
)
def test_a_single_item_where_a_collection_is_due_names_the_plugin(
    noop_plugin, hook: str, returned: str, message: str
) -> None:
    # A bare string would otherwise be iterated letter by letter (a template folder per
    # character), and a single object fail with a TypeError that names no plugin.
    body = f"import click, flask\n@erlen.hookimpl\ndef {hook}():\n    return {returned}\n"
    plugin = noop_plugin("single", body=body)
    with pytest.raises(erlen.PluginError, match=rf"Plugin 'single': {message}") as caught:
        erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={})
    assert caught.value.plugin == "single"
