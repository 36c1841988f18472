"""The documentation's own checks: shown snippets that would not work as typed fail the docs build."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")  # run by nox -s docs, which installs it

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

from sphinx.config import Config  # noqa: E402
from sphinx.directives.code import LiteralIncludeReader  # noqa: E402

from erlen_console import split_line  # noqa: E402
from erlen_snippets import problem_of, repeated_decorator  # noqa: E402

NOTES_PLUGIN = ROOT / "examples" / "notes" / "src" / "notes_app" / "notes" / "__init__.py"


def _include(**options: str) -> str:
    config = Config({}, {})
    config.source_encoding = "utf-8"
    text, _ = LiteralIncludeReader(str(NOTES_PLUGIN), options, config).read()
    return text


def test_pyobject_with_prepend_is_caught_as_a_repeated_decorator() -> None:
    # :pyobject: includes the decorator; the tutorial once prepended it again.
    assert repeated_decorator(_include(pyobject="erlen_settings", prepend="@erlen.hookimpl")) == "@erlen.hookimpl"
    assert repeated_decorator(_include(pyobject="erlen_settings")) is None


def test_shown_python_and_toml_must_parse() -> None:
    assert problem_of('plugins = ["db"]\n[db]\nurl = "sqlite:///app.db"\n', "toml") is None
    assert problem_of("[db\nurl = 1\n", "toml") is not None
    assert problem_of("PLUGINS = ['db']\n", "python") is None
    assert problem_of("def index(:\n", "python") is not None


def test_console_lines_run_erlen_with_the_typed_environment() -> None:
    assert split_line("ERLEN_PLUGINS=blgo erlen plugins") == (
        {"ERLEN_PLUGINS": "blgo"},
        [sys.executable, "-m", "erlen", "plugins"],
    )
    with pytest.raises(ValueError, match="erlen commands only"):
        split_line("rm -rf /")
