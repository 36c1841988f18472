"""Flask's ``ensure_sync`` with its answer for plain functions remembered, so a request does not ask again.

Flask passes every view, ``before_request``, ``after_request`` and teardown
function through ``app.ensure_sync`` each time it calls one, and that asks
:func:`inspect.iscoroutinefunction` (five Python calls) every time: five or
more hooks a request, the same few functions every time. Whether a function
is a coroutine function does not change, so an Erlen app remembers the plain
ones; coroutine functions still go through ``async_to_sync`` each time, as
Flask does it.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable

from flask import Flask

#: At most this many plain functions are remembered per app: the app's views and hooks, many times over. A
#: callable made anew for each call (a ``functools.partial``) then fills it once, and is asked about again
#: after, rather than kept alive without end.
MAX_REMEMBERED = 4096


class RememberingEnsureSync:
    """An app's ``ensure_sync``, remembering the functions it found plain.

    :param app: the app; its class's ``ensure_sync`` answers what is not remembered yet.
    """

    __slots__ = ("_ask", "plain")

    def __init__(self, app: Flask) -> None:
        self._ask: Callable[[Callable[..., t.Any]], Callable[..., t.Any]] = type(app).ensure_sync.__get__(app)
        #: The functions found plain: each is its own synchronous version.
        self.plain: set[Callable[..., t.Any]] = set()

    def __call__(self, func: Callable[..., t.Any]) -> Callable[..., t.Any]:
        """``func`` itself when it is a plain function; else what Flask's ``ensure_sync`` makes of it.

        :param func: a view, hook or error handler Flask is about to call.
        """
        plain = self.plain
        try:
            if func in plain:
                return func
        except TypeError:  # an unhashable callable: ask every time
            return self._ask(func)
        synchronous = self._ask(func)
        if synchronous is func and len(plain) < MAX_REMEMBERED:
            plain.add(func)
        return synchronous


def remember_plain_functions(app: Flask) -> None:
    """Make ``app.ensure_sync`` remember the plain functions it is asked about (see the module's docstring).

    Left alone when the app's class overrides ``ensure_sync`` or ``async_to_sync``: the override may answer
    differently from one call to the next.

    :param app: the app.
    """
    cls = type(app)
    if cls.ensure_sync is not Flask.ensure_sync or cls.async_to_sync is not Flask.async_to_sync:
        return
    app.ensure_sync = RememberingEnsureSync(app)  # type: ignore[method-assign]
