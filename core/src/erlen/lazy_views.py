"""View functions whose module is imported on their first request, not when the app is created.

Every process that creates the app (each gunicorn worker) registers every
route, but a worker may never serve most of them. A plugin registers
:func:`lazy_view` stand-ins: the rule and its endpoint exist from the start, so
``url_for`` builds their URLs from the first request, and the module that
defines the view, with what it imports, is loaded by the first request that
needs it.

:func:`deferred_view` gives the function itself, except in an app the
``erlen`` command creates to list its commands (see :mod:`erlen.deferred`):
there a stand-in, which :func:`erlen.finish_setup` replaces by the function.
"""

from __future__ import annotations

import importlib
import typing as t

from flask import Flask

from .deferred import defer_setup, setup_deferred
from .errors import PluginError

__all__ = ["deferred_view", "lazy_view", "use_real_views"]

#: The attribute of a :func:`deferred_view` stand-in naming its target, for :func:`use_real_views`.
_TARGET = "_erlen_deferred_view"


def lazy_view(target: str) -> t.Callable[..., t.Any]:
    """A view calling the function ``target`` names, importing its module on the first call.

    ::

        bp.add_url_rule("/sessions", "sessions", erlen.lazy_view("myplugin.session_views:sessions_page"))

    It serves as well for a request hook or an error handler (it passes its
    arguments on): registered when the app is created, the hook keeps its place
    among the other plugins' hooks, and its module is imported by the first
    request that runs it::

        app.before_request(erlen.lazy_view("myplugin.enforcement:enforce"))

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

    def view(*args: t.Any, **values: t.Any) -> t.Any:
        if not found:
            try:
                function = getattr(importlib.import_module(module_name), function_name)
            except (ImportError, AttributeError) as exc:
                raise PluginError(f"The view {target!r} cannot be loaded: {exc}") from exc
            found.append(function)
        return found[0](*args, **values)

    view.__name__ = view.__qualname__ = function_name
    view.__module__ = module_name
    return view


def deferred_view(app: Flask, target: str) -> t.Callable[..., t.Any]:
    """The view function ``target`` names, for a rule of ``app``: imported now, unless ``app`` defers its set-up.

    For views whose module imports what ``erlen --help`` should not
    (SQLAlchemy, WTForms: see :func:`erlen.defer_setup`), and that are used
    too often, or carry marks (:func:`erlen_forms.csrf_exempt`, required
    permissions), to stay :func:`lazy_view` stand-ins::

        bp.add_url_rule("/login", "login", erlen.deferred_view(app, "myplugin.views:login"))

    In an app created by the ``erlen`` command, the rule gets a
    :func:`lazy_view` stand-in, and :func:`erlen.finish_setup` puts the real
    function in its place (before any command runs, so before ``erlen run``
    serves a request). Every other app gets the real function at once.

    :param app: the app the rule is for.
    :param target: ``"package.module:function"``.
    :raises PluginError: ``target`` is not of that form, or the module or function is missing.
    """
    if setup_deferred(app):
        stand_in = lazy_view(target)
        setattr(stand_in, _TARGET, target)
        return stand_in
    module_name, _, function_name = target.partition(":")
    if not module_name or not function_name or "." in function_name:
        raise PluginError(f"deferred_view({target!r}): name the view as 'package.module:function'.")
    try:
        return t.cast(t.Callable[..., t.Any], getattr(importlib.import_module(module_name), function_name))
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"The view {target!r} cannot be loaded: {exc}") from exc


def use_real_views(app: Flask) -> None:
    """Put each :func:`deferred_view` stand-in's real function in its place among ``app``'s views.

    A step of :func:`erlen.defer_setup`, deferred by :class:`erlen.Erlen` after
    the blueprints are registered: at once (a no-op) in an app whose set-up is
    not deferred.

    :param app: the app.
    :raises PluginError: a view's module or function is missing.
    """
    for endpoint, view in list(app.view_functions.items()):
        target = getattr(view, _TARGET, None)
        if target is not None:
            module_name, _, function_name = target.partition(":")
            try:
                app.view_functions[endpoint] = getattr(importlib.import_module(module_name), function_name)
            except (ImportError, AttributeError) as exc:
                raise PluginError(f"The view {target!r} cannot be loaded: {exc}") from exc


def defer_real_views(app: Flask) -> None:
    """Have :func:`use_real_views` run when ``app``'s set-up finishes (at once if it is not deferred).

    :param app: the app, once its blueprints are registered.
    """
    defer_setup(app, use_real_views)
