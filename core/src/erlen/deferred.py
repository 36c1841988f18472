"""Set-up that the ``erlen`` command defers until a command needs it.

``erlen --app APP --help`` (and shell completion) must create the app, since
its factory may add commands, but it runs nothing: importing SQLAlchemy, the
plugins' models and the database engine for it would cost several times the
rest of the command. So while the ``erlen`` command loads the app to list its
commands, the app is created with its *deferrable* set-up pending: a plugin
hands such a step to :func:`defer_setup`, which runs it at once in any other
app (a gunicorn worker, a test, a script: everything is set up eagerly, as
before, and configuration errors still surface at start) and, in an app the
command line created, keeps it until :func:`finish_setup`.

:func:`finish_setup` runs the pending steps, in the order they were deferred
(the plugins' load order), once. The ``erlen`` command calls it before any
command runs (Flask's ``run``, ``shell`` and ``routes`` and every plugin
command), so a command sees the same app as before; a plugin also calls it on
the first use of what it deferred (``erlen_db.database_of``), so code that
reaches the app another way finds it set up too. Only what needs no such
step (routes, ``url_for``, commands and their help) is ready before.

Routes, blueprints and commands stay eager: ``--help`` lists them, and
Flask refuses to register them once the app has served a request. A step may
register request hooks or error handlers (it runs before the first request:
the command line finishes the set-up before ``erlen run`` serves).
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask

__all__ = ["defer_setup", "deferring_setup", "finish_setup", "setup_deferred"]

#: The key of ``app.extensions`` holding the pending steps of an app created with its set-up deferred.
EXTENSION_KEY = "erlen.deferred"

#: Whether apps created now defer their deferrable set-up: set by :func:`deferring_setup` (the ``erlen`` command
#: while it loads the app), for the current thread or task only, so that no other app is affected.
_DEFERRING: ContextVar[bool] = ContextVar("erlen_deferring_setup", default=False)

#: A deferred step: called with the app.
Step = Callable[[Flask], object]


class _Pending:
    """The steps an app deferred, and whether :func:`finish_setup` is running them."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.running = False


@contextmanager
def deferring_setup() -> Iterator[None]:
    """Create the apps made inside the block with their deferrable set-up pending.

    The ``erlen`` command loads the app inside it; call :func:`finish_setup`
    before using such an app for anything but listing its routes and commands.
    """
    token = _DEFERRING.set(True)
    try:
        yield
    finally:
        _DEFERRING.reset(token)


def start_deferring(app: Flask) -> None:
    """Mark ``app`` as deferring its set-up, if it is created inside :func:`deferring_setup`.

    Called by :meth:`erlen.Erlen.init_app` before any plugin's hook.

    :param app: the app being created.
    """
    if _DEFERRING.get():
        app.extensions[EXTENSION_KEY] = _Pending()


def defer_setup(app: Flask, step: Step) -> None:
    """Run ``step(app)`` now, or, in an app the ``erlen`` command created, when the set-up is finished.

    For a plugin's expensive set-up that ``erlen --help`` does not need:
    importing a heavy library or the models, making engines or clients::

        @erlen.hookimpl
        def erlen_init_app(app):
            erlen.defer_setup(app, set_up_database)

    What ``--help`` or Flask needs before the first request stays out of it:
    settings, routes and blueprints, commands. The plugin's own lookup of what
    the step makes should call :func:`finish_setup` when it finds nothing.

    :param app: the app being set up (in ``erlen_init_app`` or later).
    :param step: called with the app; in a deferred app, steps run in the order they were deferred.
    """
    pending = t.cast(_Pending | None, app.extensions.get(EXTENSION_KEY))
    if pending is None:
        step(app)
    else:
        pending.steps.append(step)


def setup_deferred(app: Flask) -> bool:
    """Whether ``app`` has deferred set-up that has not run yet (or is running now).

    :param app: any Flask app.
    """
    return EXTENSION_KEY in app.extensions


def finish_setup(app: Flask) -> None:
    """Run the steps ``app`` deferred, in order, once; nothing if it deferred none.

    Called by the ``erlen`` command before any command runs and by plugins on
    the first use of what they deferred. A call made while the steps run (a
    step using another plugin's state) returns at once: the steps run in load
    order, so a plugin's step finds what the plugins it requires set up.

    :param app: any Flask app.
    :raises ErlenError: a step found a configuration error (as it would have
        raised when creating the app); the steps after it stay pending.
    """
    pending = t.cast(_Pending | None, app.extensions.get(EXTENSION_KEY))
    if pending is None or pending.running:
        return
    pending.running = True
    try:
        while pending.steps:
            step = pending.steps.pop(0)
            step(app)
    finally:
        pending.running = False
    del app.extensions[EXTENSION_KEY]
