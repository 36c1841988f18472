"""The pytest plugin ``erlen.testing``, used as plugin authors use it."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_fixtures_in_a_plugin_authors_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        greeter="""
        import click
        import erlen

        PLUGIN = erlen.Plugin(name="greeter")

        @erlen.hookimpl
        def erlen_settings():
            return [erlen.Setting("NAME", str, default="World")]

        @erlen.hookimpl
        def erlen_init_app(app):
            app.add_url_rule("/", "greet", lambda: f"Hello, {app.config['GREETER_NAME']}!")

        @click.command("greet")
        def greet():
            click.echo("hi")

        @erlen.hookimpl
        def erlen_cli_commands():
            return [greet]
        """,
        test_greeter="""
        import pytest
        from erlen.testing import assert_valid_plugin

        @pytest.fixture
        def erlen_plugins():
            return ["greeter"]

        @pytest.fixture
        def erlen_config():
            return {"GREETER_NAME": "Ada"}

        def test_client(client):
            assert client.get("/").data == b"Hello, Ada!"

        def test_cli(cli_runner):
            assert cli_runner.invoke(args=["greet"]).output == "hi\\n"

        def test_make_app(make_app):
            app = make_app(["greeter"], {"GREETER_NAME": "Bob"})
            assert app.testing
            assert app.test_client().get("/").data == b"Hello, Bob!"

        def test_make_app_ignores_the_shell_environment(make_app, monkeypatch):
            monkeypatch.setenv("ERLEN_GREETER_NAME", "Shell")
            assert make_app(["greeter"]).config["GREETER_NAME"] == "World"
            app = make_app(["greeter"], environ={"ERLEN_GREETER_NAME": "Env"})
            assert app.config["GREETER_NAME"] == "Env"

        def test_valid(app):
            import greeter
            assert_valid_plugin(greeter)
        """,
    )
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=5)
