"""Sphinx extension that shows an ``erlen`` command with the output it really prints.

``.. erlen-console:: LINE``
    Runs ``LINE``, a command line as a reader types it (``erlen check
    --deploy``, optionally preceded by ``NAME=value`` environment
    assignments), when the page is built, and shows it as a console session:
    the line after ``$``, then what the command printed on its standard output
    and error, in the order it printed them. The sample can therefore never
    differ from what the command prints. Options:

    ``:cwd:``
        The folder the command runs in, relative to the documentation's
        folder (``examples/quickstart``); the documentation's folder by
        default.
    ``:exit-code:``
        The status the command must exit with (0 by default). Any other
        status fails the build (it is a warning, and the build turns warnings
        into errors), with the output in the message.

    ``erlen`` runs as ``python -m erlen`` with the interpreter that builds the
    documentation, so the command is the one installed beside it. The
    ``ERLEN_*`` and ``FLASK_*`` variables of the building shell are removed,
    and the output is 80 columns wide, so the sample does not depend on who
    builds it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import typing as t
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from erlen_docs import generated_docs

if t.TYPE_CHECKING:
    from sphinx.application import Sphinx

logger = logging.getLogger(__name__)

#: The longest a command may run, in seconds.
TIMEOUT = 120


def command_environment(assignments: dict[str, str]) -> dict[str, str]:
    """The environment a shown command runs in: the builder's, without Erlen's and Flask's variables.

    :param assignments: the ``NAME=value`` assignments typed before the command.
    """
    environ = {name: value for name, value in os.environ.items() if not name.startswith(("ERLEN_", "FLASK_"))}
    environ.update(COLUMNS="80", PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1")
    environ.update(assignments)
    return environ


def split_line(line: str) -> tuple[dict[str, str], list[str]]:
    """The environment assignments and the argument list of a typed command line.

    :param line: the line as shown, such as ``ERLEN_PLUGINS=blgo erlen plugins``.
    :raises ValueError: when the command is not ``erlen``.
    """
    words = shlex.split(line)
    assignments: dict[str, str] = {}
    while words and "=" in words[0] and not words[0].startswith("-"):
        name, _, value = words.pop(0).partition("=")
        assignments[name] = value
    if not words or words[0] != "erlen":
        raise ValueError(f"erlen-console runs erlen commands only, not {line!r}")
    return assignments, [sys.executable, "-m", "erlen", *words[1:]]


def run_line(line: str, cwd: Path) -> tuple[int, str]:
    """Run a typed ``erlen`` command line; return its exit status and its output.

    :param line: the line as shown.
    :param cwd: the folder it runs in.
    """
    assignments, argv = split_line(line)
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=command_environment(assignments),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return result.returncode, result.stdout


class ErlenConsole(SphinxDirective):
    """``.. erlen-console::``: an ``erlen`` command and the output it prints when the page is built."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec: t.ClassVar[dict[str, t.Callable[[str], t.Any]]] = {
        "cwd": directives.unchanged,
        "exit-code": directives.nonnegative_int,
    }

    def run(self) -> list[nodes.Node]:
        line = self.arguments[0]
        docs = Path(self.env.srcdir)
        cwd = (docs / self.options.get("cwd", ".")).resolve()
        expected = self.options.get("exit-code", 0)
        location = self.get_location()
        try:
            status, output = run_line(line, cwd)
        except (ValueError, OSError, subprocess.TimeoutExpired) as exc:
            logger.warning("erlen-console: cannot run %r: %s", line, exc, location=location)
            return []
        if status != expected:
            logger.warning(
                "erlen-console: %r exited with status %d instead of %d; it printed:\n%s",
                line,
                status,
                expected,
                output,
                location=location,
            )
        # The page is read again on every build, as the command's output may have changed.
        generated_docs(self.env).add(self.env.docname)
        text = f"$ {line}\n{output.rstrip()}"
        block = nodes.literal_block(text, text, language="console")
        self.set_source_info(block)
        return [block]


def setup(app: Sphinx) -> dict[str, t.Any]:
    app.setup_extension("erlen_docs")
    app.add_directive("erlen-console", ErlenConsole)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
