"""LazyCommand: a plugin's command is imported when it runs or shows its help, not when the app is created."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import typing as t
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import erlen
from erlen.cli import cli

if t.TYPE_CHECKING:
    from conftest import PluginFactory

COMMANDS = """
import click
from flask import current_app
from flask.cli import AppGroup

loads = []
loads.append(1)


@click.command("greet", help="Greet someone by name.")
@click.argument("who")
def greet(who):
    click.echo(f"hello {who} from {current_app.name}")


def make_group():
    group = AppGroup("things", help="Manage the things.")

    @group.command("count")
    def count():
        click.echo("3 things")

    return group
"""


def _plugin(noop_plugin: Callable[..., str], plugins: PluginFactory, module: str, extra: str = "") -> str:
    plugins.module(module, COMMANDS)
    return noop_plugin(
        "lazy",
        body=f"""
        @erlen.hookimpl
        def erlen_cli_commands(cli):
            return [
                erlen.LazyCommand("greet", "{module}:greet", help="Greet someone by name."),
                erlen.LazyCommand("things", "{module}:make_group", help="Manage the things."),
            ]
        {extra}
        """,
    )


def test_commands_are_imported_when_run_not_when_the_app_is_created(
    noop_plugin: Callable[..., str], plugins: PluginFactory
) -> None:
    plugin = _plugin(noop_plugin, plugins, "lazy_cmds_run")
    app = erlen.create_app("lazyapp", {"PLUGINS": [plugin]}, environ={})
    assert "lazy_cmds_run" not in sys.modules
    runner = app.test_cli_runner()
    result = runner.invoke(args=["greet", "ada"])
    assert result.exit_code == 0, result.output
    # Run in the app's context, as any plugin command is (current_app works).
    assert result.output == "hello ada from lazyapp\n"
    assert sys.modules["lazy_cmds_run"].loads == [1]
    assert runner.invoke(args=["things", "count"]).output == "3 things\n"
    assert runner.invoke(args=["greet", "bob"]).output == "hello bob from lazyapp\n"
    assert sys.modules["lazy_cmds_run"].loads == [1]  # imported once


def test_the_listing_shows_the_help_without_importing(
    noop_plugin: Callable[..., str], plugins: PluginFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = _plugin(noop_plugin, plugins, "lazy_cmds_help")
    monkeypatch.setitem(sys.modules, "lazy_help_app", _app_module(plugin))
    result = CliRunner().invoke(cli, ["--app", "lazy_help_app:create", "--help"])
    assert result.exit_code == 0, result.output
    listing = {line.split(maxsplit=1)[0]: line.split(maxsplit=1)[1] for line in _commands_section(result.output)}
    assert listing["greet"] == "Greet someone by name."
    assert listing["things"] == "Manage the things."
    assert "lazy_cmds_help" not in sys.modules
    # The command's own help is the real command's: its argument and subcommands.
    result = CliRunner().invoke(cli, ["--app", "lazy_help_app:create", "things", "--help"])
    assert "count" in result.output
    assert "lazy_cmds_help" in sys.modules


def _commands_section(output: str) -> list[str]:
    return [line for line in output.split("Commands:\n", 1)[1].splitlines() if line.strip()]


def _app_module(plugin: str) -> object:
    import types

    module = types.ModuleType("lazy_help_app")
    module.create = lambda: erlen.create_app("lazyapp", {"PLUGINS": [plugin]}, environ={})  # type: ignore[attr-defined]
    return module


def test_a_plugin_extends_a_lazy_group_when_it_loads(noop_plugin: Callable[..., str], plugins: PluginFactory) -> None:
    # As erlen-migrate adds its commands to erlen-db's group: through erlen.when_loaded, or add_command.
    plugins.module(
        "lazy_cmds_extend",
        """
        import click

        @click.command("upgrade")
        def upgrade():
            click.echo("upgraded")

        @click.command("stamp")
        def stamp():
            click.echo("stamped")
        """,
    )
    base = _plugin(noop_plugin, plugins, "lazy_cmds_base")
    extension = noop_plugin(
        "extension",
        requires=("lazy",),
        body="""
        @erlen.hookimpl
        def erlen_cli_commands(cli):
            def add(group):
                from lazy_cmds_extend import upgrade
                group.add_command(upgrade)
            erlen.when_loaded(cli.commands["things"], add)
            import lazy_cmds_extend
            cli.commands["things"].add_command(lazy_cmds_extend.stamp)
            return []
        """,
    )
    app = erlen.create_app("lazyapp", {"PLUGINS": [extension, base]}, environ={})
    assert "lazy_cmds_base" not in sys.modules
    runner = app.test_cli_runner()
    assert runner.invoke(args=["things", "upgrade"]).output == "upgraded\n"
    assert runner.invoke(args=["things", "stamp"]).output == "stamped\n"
    assert runner.invoke(args=["things", "count"]).output == "3 things\n"


def test_each_app_gets_its_own_group_from_a_factory(noop_plugin: Callable[..., str], plugins: PluginFactory) -> None:
    plugin = _plugin(noop_plugin, plugins, "lazy_cmds_factory")
    first = erlen.create_app("one", {"PLUGINS": [plugin]}, environ={})
    second = erlen.create_app("two", {"PLUGINS": [plugin]}, environ={})
    first_group = first.cli.commands["things"]
    first_group.add_command(click.Command("only-first", callback=lambda: click.echo("first")))
    assert first.test_cli_runner().invoke(args=["things", "only-first"]).output == "first\n"
    assert "only-first" not in second.test_cli_runner().invoke(args=["things", "--help"]).output


def test_the_apps_own_commands_and_flasks_still_work(noop_plugin: Callable[..., str], plugins: PluginFactory) -> None:
    plugin = _plugin(noop_plugin, plugins, "lazy_cmds_own")
    app = erlen.create_app("lazyapp", {"PLUGINS": [plugin]}, environ={})

    @app.cli.command("mine")
    def mine() -> None:
        click.echo("mine")

    runner = app.test_cli_runner()
    assert runner.invoke(args=["mine"]).output == "mine\n"
    assert runner.invoke(args=["greet", "x"]).output == "hello x from lazyapp\n"
    assert "lazy_cmds_own" in sys.modules


def test_conflicts_are_still_found_when_the_app_is_created(noop_plugin: Callable[..., str]) -> None:
    body = """
    @erlen.hookimpl
    def erlen_cli_commands():
        return [erlen.LazyCommand("sync", "nowhere_at_all:sync", help="Sync.")]
    """
    first, second = noop_plugin("first", body=body), noop_plugin("second", body=body)
    with pytest.raises(erlen.CommandConflictError, match=r"Plugins 'first' and 'second' both add the command 'sync'"):
        erlen.create_app(__name__, {"PLUGINS": [first, second]}, environ={})


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("lazy_cmds_bad:missing", r"cannot load 'lazy_cmds_bad:missing'"),
        ("lazy_cmds_bad:not_a_command", r"is int, not a click command"),
        ("lazy_cmds_bad:other_name", r"is named 'other'; the names must match"),
    ],
)
def test_a_wrong_target_is_reported(plugins: PluginFactory, target: str, message: str) -> None:
    plugins.module(
        "lazy_cmds_bad",
        "import click\nnot_a_command = 3\nother_name = click.Command('other')\n",
    )
    with pytest.raises(erlen.PluginError, match=message):
        erlen.LazyCommand("bad", target).load()


def test_a_target_must_name_module_and_attribute() -> None:
    with pytest.raises(ValueError, match="must be 'module:attribute'"):
        erlen.LazyCommand("bad", "just_a_module")


def test_the_builtin_commands_are_lazy(tmp_path: Path) -> None:
    # In a fresh interpreter: what a worker imports when it creates the app.
    script = textwrap.dedent(
        """
        import sys
        import erlen

        app = erlen.create_app("worker", {}, environ={})
        print(sorted(name for name in sys.modules if name == "erlen.cli" or name.startswith("erlen.cli.")))
        print(sorted(app.cli.commands))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    imported, commands = out.stdout.splitlines()
    assert imported == "[]"
    assert commands == "['check', 'plugins']"


@pytest.mark.parametrize("name", ["check", "plugins"])
def test_the_builtin_commands_list_their_real_help(name: str) -> None:
    app = erlen.create_app("helps", {}, environ={})
    lazy = app.cli.commands[name]
    assert isinstance(lazy, erlen.LazyCommand)
    listed = [lazy.get_short_help_str(limit) for limit in (30, 45, 200)]
    real = lazy.load()
    assert listed == [real.get_short_help_str(limit) for limit in (30, 45, 200)]
