"""The ``erlen`` command: app discovery, versions, and errors without tracebacks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from erlen.cli import cli

HELLO = """
import erlen
app = erlen.create_app(__name__)

@app.route("/")
def hello_world():
    return "<p>Hello, World!</p>"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "hello.py").write_text(HELLO)
    monkeypatch.chdir(tmp_path)
    for name in ("FLASK_APP", "ERLEN_APP", "ERLEN_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path
    sys.modules.pop("hello", None)
    sys.modules.pop("broken_app", None)


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("Erlen 0.1.0\nFlask ")


def test_help_lists_flask_and_plugin_commands(project: Path) -> None:
    result = CliRunner().invoke(cli, ["--app", "hello", "--help"])
    assert result.exit_code == 0, result.output
    for command in ("run", "shell", "routes", "plugins", "check"):
        assert f"  {command} " in result.output


def test_routes(project: Path) -> None:
    result = CliRunner().invoke(cli, ["--app", "hello", "routes"])
    assert result.exit_code == 0, result.output
    assert "hello_world" in result.output


def test_app_from_erlen_app_variable(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERLEN_APP", "hello")
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].startswith("erlen ")


def test_no_app_found_says_how_to_name_one(project: Path) -> None:
    (project / "hello.py").unlink()
    result = CliRunner().invoke(cli, ["plugins"])
    assert "Could not locate an app. Use the 'erlen --app' option, the ERLEN_APP" in result.output


def test_configuration_errors_are_shown_without_a_traceback(project: Path) -> None:
    (project / "broken_app.py").write_text("import erlen\napp = erlen.create_app(__name__, {'PLUGINS': ['nope']})\n")
    result = CliRunner().invoke(cli, ["--app", "broken_app", "plugins"])
    assert result.exit_code != 0
    assert "Error: Unknown plugin 'nope' in PLUGINS" in result.output
    assert "Traceback" not in result.output


def test_a_mistyped_app_ends_with_the_import_error(project: Path) -> None:
    result = CliRunner().invoke(cli, ["--app", "helo", "plugins"])
    assert result.exit_code == 2
    assert result.output.rstrip().endswith("Error: Could not import 'helo'."), result.output
    assert "No such command" not in result.output
    assert "Did you mean" not in result.output


def test_an_unknown_command_of_a_loaded_app_is_still_reported(project: Path) -> None:
    result = CliRunner().invoke(cli, ["--app", "hello", "plugin"])
    assert result.exit_code == 2
    assert "No such command 'plugin'." in result.output


def test_flask_cli_sees_plugin_commands(project: Path) -> None:
    from flask.cli import cli as flask_cli

    result = CliRunner().invoke(flask_cli, ["--app", "hello", "plugins", "--json"])
    assert result.exit_code == 0, result.output
    assert '"name": "erlen"' in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_erlen_run_serves_the_app(project: Path) -> None:
    port = _free_port()
    erlen_script = Path(sys.executable).with_name("erlen")
    server = subprocess.Popen(
        [str(erlen_script), "--app", "hello", "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # Bounded generously: on a loaded 2-core CI machine the server's start-up alone can take seconds.
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    assert response.read() == b"<p>Hello, World!</p>"
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stdout is not None
        server.stdout.close()


def test_configured_debug_is_kept_unless_the_cli_says_otherwise(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    (project / "hello.py").write_text(HELLO.replace("create_app(__name__)", "create_app(__name__, {'DEBUG': True})"))
    result = CliRunner().invoke(cli, ["--app", "hello", "check", "--deploy"])
    assert result.exit_code == 1
    assert "erlen.E003" in result.output


def test_shell_has_the_plugin_shell_context(project: Path) -> None:
    (project / "shellplug.py").write_text(
        "import erlen\n@erlen.hookimpl\ndef erlen_shell_context():\n    return {'answer': 42}\n"
    )
    (project / "hello.py").write_text(
        HELLO.replace("create_app(__name__)", "create_app(__name__, {'PLUGINS': ['shellplug']})")
    )
    result = subprocess.run(
        [sys.executable, "-m", "erlen", "--app", "hello", "shell"],
        cwd=project,
        input="print('answer is', answer)\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "answer is 42" in result.stdout


def test_help_without_an_app_is_a_note_that_lists_the_commands_needing_none(project: Path) -> None:
    """Outside a project, where a newcomer runs ``erlen new-plugin``: not "Error: Could not locate an app" above
    the help page, which then reads as a failure."""
    (project / "hello.py").unlink()
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    assert "Error" not in result.output
    assert "No app found here, so only the commands that need none are listed" in result.output
    assert "new-plugin" in result.output and "run" in result.output
    assert "plugins" not in result.output.partition("Commands:")[2].split()


def test_help_of_an_app_that_fails_to_load_still_says_error(project: Path) -> None:
    (project / "broken_app.py").write_text("import erlen\napp = erlen.create_app(__name__, {'PLUGINS': ['nope']})\n")
    result = CliRunner().invoke(cli, ["--app", "broken_app", "--help"])
    assert "Error: Unknown plugin 'nope' in PLUGINS" in result.output
    assert "No app found" not in result.output
