"""The README's two commands are what CI runs and what a newcomer types."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    quick_start = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quick_start)


def run_command() -> tuple[list[str], list[str]]:
    """The main command's local distributions to install, and the ``erlen`` command it then runs."""
    install, run = readme_commands()[0].split(" && ")
    words = shlex.split(install)
    assert words[:4] == ["python3", "-m", "pip", "install"], install
    return words[4:], shlex.split(run)


def _distribution(folder: Path) -> tuple[str, list[str]]:
    with (folder / "pyproject.toml").open("rb") as fh:
        project = tomllib.load(fh)["project"]
    requirements = [re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0] for r in project.get("dependencies", [])]
    return project["name"], requirements


def test_quick_start_gives_exactly_two_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)


def test_ci_runs_the_readme_test_command_exactly() -> None:
    test_command = readme_commands()[1]
    assert test_command == "python3 -m pip install nox uv && python3 -m nox"
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_run_command_installs_folders_that_exist() -> None:
    paths, _ = run_command()
    for path in paths:
        assert path.startswith("./"), path
        assert (ROOT / path / "pyproject.toml").is_file(), f"{path} in the README is not a distribution's folder"


def test_run_command_installs_every_local_distribution_the_example_needs() -> None:
    """Each monorepo distribution the installed ones require is in the list, as pip finds them only there."""
    paths, _ = run_command()
    local = {
        _distribution(folder)[0]: folder
        for folder in [ROOT / "core", *(p.parent for p in ROOT.glob("extensions/*/pyproject.toml"))]
        + [p.parent for p in ROOT.glob("examples/*/pyproject.toml")]
    }
    listed = {_distribution(ROOT / path)[0] for path in paths}
    for path in paths:
        name, requirements = _distribution(ROOT / path)
        missing = [r for r in requirements if r in local and r not in listed]
        assert not missing, f"{name} requires {missing}: add {[str(local[r].relative_to(ROOT)) for r in missing]}"


def test_run_command_runs_the_example_apps_demo() -> None:
    paths, run = run_command()
    assert run[:5] == ["python3", "-m", "erlen", "--app", "notes_app"] and run[5:] == ["demo"], run
    assert "./examples/notes" in paths
    assert (ROOT / "examples" / "notes" / "src" / "notes_app" / "__init__.py").is_file()
    # Every plugin the example enables by name ships in a listed distribution.
    with (ROOT / "examples" / "notes" / "src" / "notes_app" / "erlen.toml").open("rb") as fh:
        plugins = tomllib.load(fh)["plugins"]
    announced: set[str] = set()
    for path in paths:
        with (ROOT / path / "pyproject.toml").open("rb") as fh:
            announced.update(tomllib.load(fh)["project"].get("entry-points", {}).get("erlen.plugins", {}))
    by_name = [plugin for plugin in plugins if "." not in plugin]
    assert set(by_name) <= announced, set(by_name) - announced
