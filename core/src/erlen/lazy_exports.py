"""Names a package re-exports from modules it imports on first use, not when it is imported.

Every process that creates the app imports each enabled plugin's package, and
a package that re-exports its whole API would import every module behind it:
pagination, uploads, delivery, migrations... that a web worker may never use.
:func:`lazy_exports` makes the module ``__getattr__`` (:pep:`562`) that imports
such a name's module when the name is first read; the name is then kept on the
package, so later reads are plain attribute reads.
"""

from __future__ import annotations

import importlib
import sys
import typing as t
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(module: str, exports: Mapping[str, str]) -> Callable[[str], t.Any]:
    """The ``__getattr__`` of ``module`` giving each name of ``exports`` from its module, imported on first use.

    ::

        __getattr__ = erlen.lazy_exports(__name__, dict.fromkeys(("paginate", "Page"), "myplugin.pagination"))

    Import the same names under ``if typing.TYPE_CHECKING:`` too, so that type
    checkers and editors see them.

    :param module: the ``__name__`` of the module that re-exports them.
    :param exports: each name, and the module that defines it (absolute); ``"module:attribute"`` for a name
        exported under another name than its module's (``"redact_url": "erlen_db.urls:redact"``).
    """
    sources = {name: source.partition(":") for name, source in exports.items()}

    def __getattr__(name: str) -> t.Any:
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        source_module, _, attribute = source
        value = getattr(importlib.import_module(source_module), attribute or name)
        setattr(sys.modules[module], name, value)  # kept: the next read does not come here
        return value

    return __getattr__
