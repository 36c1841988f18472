"""View functions whose module is imported on their first request, not when the app is created.

Every process that creates the app (each gunicorn worker) registers every
route, but a worker may never serve most of them. A plugin registers
:func:`lazy_view` stand-ins: the rule and its endpoint exist from the start, so
``url_for`` builds their URLs from the first request, and the module that
defines the view, with what it imports, is loaded by the first request that
needs it.
"""

from __future__ import annotations

import importlib
import typing as t

from .errors import PluginError

__all__ = ["lazy_view"]


def lazy_view(target: str) -> t.Callable[..., t.Any]:
    """A view calling the function ``target`` names, importing its module on the first call.

    ::

        bp.add_url_rule("/sessions", "sessions", erlen.lazy_view("myplugin.session_views:sessions_page"))

    The function is looked up once and kept: later calls cost a list read.
    The stand-in carries the function's name, qualified name and module, so
    tracebacks and logs name the real view. Marks that other code reads from
    the registered function before calling it (:func:`erlen_forms.csrf_exempt`,
    erlen-auth's ``permission_required`` and ``token_auth``) are on the real
    function only: register such views themselves, not through a stand-in.

    :param target: ``"package.module:function"``; the function may carry decorators (log-in required, ...).
    :raises PluginError: ``target`` is not of that form (when the stand-in is made), or the module
        or function is missing (on the first call).
    """
    module_name, _, function_name = target.partition(":")
    if not module_name or not function_name or "." in function_name:
        raise PluginError(f"lazy_view({target!r}): name the view as 'package.module:function'.")
    found: list[t.Callable[..., t.Any]] = []

    def view(**values: t.Any) -> t.Any:
        if not found:
            try:
                function = getattr(importlib.import_module(module_name), function_name)
            except (ImportError, AttributeError) as exc:
                raise PluginError(f"The view {target!r} cannot be loaded: {exc}") from exc
            found.append(function)
        return found[0](**values)

    view.__name__ = view.__qualname__ = function_name
    view.__module__ = module_name
    return view
