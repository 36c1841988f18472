"""Sphinx configuration of Erlen's documentation.

Build from the repository's root:

    sphinx-build -W --keep-going -b html docs docs/_build/html
    sphinx-build -W -b doctest docs docs/_build/doctest
"""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import erlen

HERE = Path(__file__).resolve().parent

# The local extension that generates the hook and settings references.
sys.path.insert(0, str(HERE / "_ext"))
# The example project and plugins that the pages include and the doctests run.
sys.path.insert(0, str(HERE / "examples"))
sys.path.insert(0, str(HERE / "examples" / "quickstart"))
# The repository's example app and third-party plugin, which the tutorial and the
# plugin author guide include. Installed (pip install ./examples/profiles
# ./examples/notes), the app runs in the tutorial's examples; otherwise they skip.
REPOSITORY = HERE.parent
for _example in ("profiles", "notes"):
    sys.path.append(str(REPOSITORY / "examples" / _example / "src"))

project = "Erlen"
author = "The Erlen developers"
copyright = "The Erlen developers"
version = release = erlen.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "erlen_docs",
    "erlen_console",
    "erlen_snippets",
]

exclude_patterns = ["_build", "_ext", "examples", "tests"]
root_doc = "index"
default_role = "code"
pygments_style = "sphinx"

# -- autodoc ----------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# erlen.testing is a pytest plugin; document it even where pytest is missing.
try:
    import pytest  # noqa: F401
except ImportError:
    autodoc_mock_imports = ["pytest"]

# -- doctest ----------------------------------------------------------------

# Exception messages are compared too (no IGNORE_EXCEPTION_DETAIL), so the
# error messages the pages quote cannot drift from the code.
doctest_default_flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.DONT_ACCEPT_TRUE_FOR_1

# What a reader types must work as shown: the setup below defines no name a
# shown example uses. Each page imports what it uses (``import erlen``,
# ``import pathlib``) in a block the reader sees. The hidden checks use only the
# underscore names, and those a hidden block imports itself.
doctest_global_setup = f"""
import os as _os
from importlib.metadata import entry_points as _entry_points
from pathlib import Path as _Path

_EXAMPLES = _Path({str(HERE / "examples")!r})
_REPOSITORY = _EXAMPLES.parent.parent

# The examples must not depend on the ERLEN_* variables of the shell.
for _name in [_name for _name in _os.environ if _name.startswith("ERLEN_")]:
    del _os.environ[_name]

try:
    import pytest as _pytest
except ImportError:
    _pytest = None

# The tutorial runs the example app when it is installed with its plugin.
_EXAMPLE_APP_INSTALLED = bool(_entry_points(group="erlen.plugins", name="profiles"))
"""

# -- HTML -------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"Erlen {release}"
html_theme_options = {
    "description": "A Flask web framework in which every battery is a plugin.",
    "fixed_sidebar": True,
    "page_width": "1100px",
}
