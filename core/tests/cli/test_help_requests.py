"""A help page is printed without finishing the app's deferred set-up; a command that runs finds it finished."""

from __future__ import annotations

import sys
import types
import typing as t
from collections.abc import Callable

import click
import pytest
from click.testing import CliRunner, Result

import erlen
from erlen.cli import cli
from erlen.cli.help_requests import asks_for_help

if t.TYPE_CHECKING:
    from conftest import PluginFactory

#: Imported by the deferred set-up of the test plugin: stands for SQLAlchemy and the models.
HEAVY = "help_requests_heavy"

#: The test plugin's commands, imported when they run or show their help (erlen.LazyCommand).
COMMANDS = """
import click
from flask import current_app
from flask.cli import AppGroup

import erlen

#: Whether the set-up was still pending when an option of a command was parsed: one entry per parse.
PARSED = []


def _parsed(ctx, param, value):
    PARSED.append(erlen.setup_deferred(current_app))
    return value


def make_group():
    group = AppGroup("things", help="Manage the things.")

    @group.command("count")
    @click.option("--kind", default="all", callback=_parsed, help="Which things to count.")
    def count(kind):
        click.echo(f"{kind} things, set up: {not erlen.setup_deferred(current_app)}")

    return group


@click.command("greet", help="Greet someone by name.")
@click.argument("who")
def greet(who):
    click.echo(f"hello {who}")


@click.command("extra")
@click.option("--loud", is_flag=True, help="Shout.")
def extra(loud):
    click.echo("extra")
"""

THINGS_PLUGIN = f"""
CALLS = []


@erlen.hookimpl
def erlen_init_app(app):
    erlen.defer_setup(app, _set_up)


def _set_up(app):
    import {HEAVY}

    CALLS.append("set up")


@erlen.hookimpl
def erlen_cli_commands(cli):
    return [
        erlen.LazyCommand("things", "help_requests_commands:make_group", help="Manage the things."),
        erlen.LazyCommand("greet", "help_requests_commands:greet", help="Greet someone by name."),
    ]
"""

#: Adds a command to the other plugin's group when it loads, as erlen-migrate does to erlen-db's.
EXTENDER_PLUGIN = """
@erlen.hookimpl
def erlen_cli_commands(cli):
    def add(group):
        from help_requests_commands import extra

        group.add_command(extra)

    erlen.when_loaded(cli.commands["things"], add)
    return []
"""


class HelpApp:
    """The app module the tests' ``erlen --app`` names, and what its plugin's deferred set-up did."""

    def __init__(self, module: str, things: str) -> None:
        self.module = module
        self.things = things

    @property
    def calls(self) -> list[str]:
        """What the deferred set-up did: ``["set up"]`` once it ran."""
        return t.cast(list[str], sys.modules[self.things].CALLS)  # type: ignore[attr-defined]

    def invoke(self, factory: str, args: list[str], env: dict[str, str] | None = None) -> Result:
        """Run ``erlen --app MODULE:FACTORY ARGS`` in this process."""
        return CliRunner().invoke(cli, ["--app", f"{self.module}:{factory}", *args], env=env, prog_name="erlen")


@pytest.fixture
def help_app(noop_plugin: Callable[..., str], plugins: PluginFactory, monkeypatch: pytest.MonkeyPatch) -> HelpApp:
    plugins.module(HEAVY, "")
    plugins.module("help_requests_commands", COMMANDS)
    things = noop_plugin("things", body=THINGS_PLUGIN)
    extender = noop_plugin("extender", requires=("things",), body=EXTENDER_PLUGIN)
    module = types.ModuleType("help_requests_app")

    def create() -> t.Any:
        app = erlen.create_app("helpapp", {"PLUGINS": [things, extender]}, environ={})
        # The app's factory adds a command of its own to the plugin's group (added when the group loads).
        app.cli.commands["things"].add_command(click.Command("own", help="The app's own thing."))
        return app

    def create_set_up() -> t.Any:
        # The same app with its set-up finished by the factory: what the erlen command showed before.
        app = create()
        erlen.finish_setup(app)
        return app

    module.create = create  # type: ignore[attr-defined]
    module.create_set_up = create_set_up  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return HelpApp(module.__name__, things)


@pytest.mark.parametrize(
    "args",
    [
        ["things", "--help"],
        ["things"],  # a group without a subcommand: click's help page (no_args_is_help)
        ["things", "--help", "count"],
        ["things", "count", "--help"],
        ["things", "count", "--kind", "few", "--help"],
        ["things", "extra", "--help"],  # added by another plugin when the group loads
        ["things", "own", "--help"],  # added by the app's factory
        ["greet", "--help"],
        ["plugins", "--help"],  # Erlen's own (Flask's run, shell and routes do not load the app for their help)
    ],
)
def test_a_help_page_is_the_same_without_finishing_the_set_up(help_app: HelpApp, args: list[str]) -> None:
    set_up = help_app.invoke("create_set_up", args)
    assert help_app.calls == ["set up"]
    sys.modules.pop(HEAVY)
    help_app.calls.clear()
    result = help_app.invoke("create", args)
    assert (result.exit_code, result.output) == (set_up.exit_code, set_up.output)
    assert "Usage: erlen " in result.output
    assert help_app.calls == []
    assert HEAVY not in sys.modules


def test_a_group_help_lists_the_commands_other_plugins_and_the_app_add_when_it_loads(help_app: HelpApp) -> None:
    result = help_app.invoke("create", ["things", "--help"])
    assert result.exit_code == 0, result.output
    commands = result.output.split("Commands:\n", 1)[1]
    assert [line.split()[0] for line in commands.splitlines() if line.strip()] == ["count", "extra", "own"]
    assert help_app.calls == []


@pytest.mark.parametrize(
    ("args", "output"),
    [
        (["things", "count"], "all things, set up: True\n"),
        (["things", "count", "--kind", "--help"], "--help things, set up: True\n"),  # --help is the option's value
        (["things", "count", "--kind", "few"], "few things, set up: True\n"),
    ],
)
def test_a_command_that_runs_finds_the_set_up_finished_before_parsing(
    help_app: HelpApp, args: list[str], output: str
) -> None:
    result = help_app.invoke("create", args)
    assert (result.exit_code, result.output) == (0, output)
    assert help_app.calls == ["set up"]
    assert HEAVY in sys.modules
    assert sys.modules["help_requests_commands"].PARSED == [False]  # type: ignore[attr-defined]


def test_a_usage_error_is_reported_after_the_set_up_as_before(help_app: HelpApp) -> None:
    set_up = help_app.invoke("create_set_up", ["things", "nothing", "--help"])
    help_app.calls.clear()
    result = help_app.invoke("create", ["things", "nothing", "--help"])
    assert (result.exit_code, result.output) == (set_up.exit_code, set_up.output) == (2, set_up.output)
    assert "No such command 'nothing'" in result.output
    assert help_app.calls == ["set up"]


def test_completion_needs_no_set_up(help_app: HelpApp) -> None:
    words = f"erlen --app {help_app.module}:create things "
    result = help_app.invoke(
        "create", [], env={"_ERLEN_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": "4"}
    )
    assert result.exit_code == 0, result.output
    assert result.output.split() == ["plain,count", "plain,extra", "plain,own"]
    assert help_app.calls == []
    assert HEAVY not in sys.modules


def _tool() -> click.Group:
    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    def tool() -> None:
        pass

    @tool.command("up")
    @click.option("--plugin")
    def up(plugin: str | None) -> None:
        pass

    @tool.group("sub", invoke_without_command=True)
    def sub() -> None:
        pass

    @click.group(chain=True)
    def chained() -> None:
        pass

    chained.add_command(click.Command("one"))
    tool.add_command(chained)
    tool.add_command(erlen.LazyCommand("later", "help_requests_later:later", help="Later."))
    return tool


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], True),
        (["-h"], True),
        (["up", "-h"], True),
        (["up", "--plugin", "-h"], False),  # the option's value, as click reads it
        (["up", "--plugin=x"], False),
        (["up", "--bogus", "--help"], False),  # a usage error comes first
        (["nothing", "--help"], False),
        (["sub"], False),  # a group that runs without a subcommand
        (["sub", "--help"], True),
        (["chained", "one", "--help"], False),  # chained groups: left to click, after the set-up
        (["later", "--help"], True),
        (["later"], False),
        (["--", "--help"], False),
    ],
)
def test_asks_for_help_as_click_decides(plugins: PluginFactory, args: list[str], expected: bool) -> None:
    plugins.module("help_requests_later", "import click\nlater = click.Command('later', callback=lambda: None)\n")
    tool = _tool()
    parent = click.Context(click.Group("erlen"), info_name="erlen")
    assert asks_for_help(parent, "tool", tool, args) is expected


def test_a_command_that_cannot_be_loaded_counts_as_run() -> None:
    parent = click.Context(click.Group("erlen"), info_name="erlen")
    lazy = erlen.LazyCommand("gone", "help_requests_nowhere:gone", help="Gone.")
    assert asks_for_help(parent, "gone", lazy, ["--help"]) is False
