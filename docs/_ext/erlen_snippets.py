"""Sphinx extension that checks the code blocks a reader copies, so they work as shown.

The doctest builder runs the pages' ``doctest`` and ``testcode`` blocks, and
``erlen-console`` (:mod:`erlen_console`) runs the commands whose output a page
shows. What remains are the blocks that only show code; this extension checks
each of them when the page is read, and warns (the build turns warnings into
errors) when one:

* shows the same decorator twice in a row, as ``literalinclude`` does with
  ``:pyobject:`` (which includes the decorators) and ``:prepend:`` together;
* is a ``code-block:: python`` that is not valid Python;
* is a ``code-block:: toml`` that is not valid TOML.
"""

from __future__ import annotations

import itertools
import textwrap
import tomllib
import typing as t

from docutils import nodes
from sphinx.util import logging

if t.TYPE_CHECKING:
    from sphinx.application import Sphinx

logger = logging.getLogger(__name__)


def repeated_decorator(code: str) -> str | None:
    """The first decorator line that the next line repeats, or ``None``.

    :param code: the text of a code block.
    """
    lines = [line.strip() for line in code.splitlines()]
    for line, following in itertools.pairwise(lines):
        if line.startswith("@") and line == following:
            return line
    return None


def problem_of(code: str, language: str) -> str | None:
    """What is wrong with a shown code block written in ``language``, or ``None``.

    :param code: the text of the code block.
    :param language: its highlighting language (``python``, ``toml``, ...).
    """
    if language == "python":
        try:
            compile(textwrap.dedent(code), "<code-block>", "exec")
        except SyntaxError as exc:
            return f"it is not valid Python: {exc.msg} (line {exc.lineno})"
    elif language == "toml":
        try:
            tomllib.loads(code)
        except tomllib.TOMLDecodeError as exc:
            return f"it is not valid TOML: {exc}"
    return None


def _check_blocks(app: Sphinx, doctree: nodes.document) -> None:
    for block in doctree.findall(nodes.literal_block):
        code = block.astext()
        decorator = repeated_decorator(code)
        if decorator is not None:
            logger.warning(
                "erlen-snippets: a code block shows %r twice in a row (a literalinclude with :pyobject: "
                "includes the decorators; drop its :prepend:)",
                decorator,
                location=block,
            )
        # Blocks included from files are whole files, or parts of them, which their own tests run.
        if block.get("source"):
            continue
        problem = problem_of(code, block.get("language", ""))
        if problem is not None:
            language = block.get("language")
            logger.warning("erlen-snippets: a %s code block is wrong: %s", language, problem, location=block)


def setup(app: Sphinx) -> dict[str, t.Any]:
    app.connect("doctree-read", _check_blocks)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
