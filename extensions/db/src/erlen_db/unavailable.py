"""Error pages and an unavailable database: what was found in this request, and loaders that then step aside.

Without SQLAlchemy: plugins decorate their template globals with
:func:`unless_unavailable` when their module is imported, which every process
that creates the app does, ``erlen --help`` included (see
:func:`erlen.defer_setup`).
"""

from __future__ import annotations

import functools
import sys
import typing as t
from collections.abc import Callable

from flask import current_app, g, has_app_context

#: The attribute of ``g`` set once the database was found unavailable in the current app context.
_G_FOUND_UNAVAILABLE = "_erlen_db_found_unavailable"

_P = t.ParamSpec("_P")
_R = t.TypeVar("_R")


def note_unavailable() -> None:
    """Record that the database was found unavailable in the current app context (a no-op outside one).

    The engine's error listener and the 503 handler call it; :func:`found_unavailable` reads it.
    """
    if has_app_context():
        setattr(g._get_current_object(), _G_FOUND_UNAVAILABLE, True)


def found_unavailable() -> bool:
    """Whether the database was found unavailable (unreachable, out of connections, locked) in this app context.

    Once it is, the rest of the request is an error page: code that would
    only decorate it (the user in the navigation, a display name) should not
    try the database again; see :func:`unless_unavailable`.
    """
    # g.get rather than getattr with a default: a name g does not hold raises a KeyError and then an
    # AttributeError inside getattr, two exceptions on every logged-in request (the user loader asks).
    return has_app_context() and bool(g._get_current_object().get(_G_FOUND_UNAVAILABLE, False))


def unless_unavailable(fallback: Callable[..., t.Any]) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Make a loader that error pages use give ``fallback``'s answer instead of touching an unavailable database.

    The decorated function runs as before, except:

    * once the database was found unavailable in the current app context
      (:func:`found_unavailable`), ``fallback`` answers and the database is
      not tried again, so the 503 page of a logged-in user runs no query;
    * while an error is being handled (an error handler renders its page)
      and the function meets an unavailable database, ``fallback`` answers
      instead of the error, which would turn the error page into a 500.

    Outside error handling, an unavailable database still raises, so the
    request ends in the 503 page rather than carrying on without the data.
    erlen-auth's user loader is wrapped with it (the fallback: nobody is
    logged in)::

        @erlen_db.unless_unavailable(lambda user: user.email)
        def display_name(user):
            ...

    :param fallback: called with the same arguments; it must not use the database.
    """

    def decorate(load: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(load)
        def guarded(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            if found_unavailable():
                return t.cast(_R, fallback(*args, **kwargs))
            # Flask calls error handlers inside its ``except`` blocks, so an exception being
            # handled means an error page is being made (or a view is handling an error itself).
            handling_error = sys.exc_info()[1] is not None
            try:
                return load(*args, **kwargs)
            except Exception as exc:
                # Imported on a failure only: they import SQLAlchemy, which the module that decorates may not.
                from sqlalchemy.exc import SQLAlchemyError

                from .errors import is_unavailable

                if not (handling_error and isinstance(exc, SQLAlchemyError) and is_unavailable(exc)):
                    raise
                note_unavailable()
                current_app.logger.warning(
                    "Database unavailable while an error page was made; %s answered without it: %s",
                    getattr(load, "__qualname__", load),
                    exc.__class__.__name__,
                )
                return t.cast(_R, fallback(*args, **kwargs))

        return guarded

    return decorate


__all__ = ["found_unavailable", "note_unavailable", "unless_unavailable"]
