"""The one line a failed run leaves in its row's ``last_error``: the error's type and its first meaningful line.

A traceback's last line is not the error: a SQLAlchemy error ends with
``(Background on this error at: https://sqlalche.me/e/...)``, after its
``[SQL: ...]`` and ``[parameters: ...]`` lines, and ``erlen tasks list`` or the
admin showed only that. The line kept here is the error's class (without its
module) and the first line of its message that says something: for a
SQLAlchemy error, the driver's own (``OperationalError: (sqlite3.OperationalError)
database is locked``).
"""

from __future__ import annotations

import re

#: The longest ``last_error`` kept, in characters (the rest is cut, with an ellipsis).
MAX_LENGTH = 500

#: Lines of an error's message that say nothing about the error itself: SQLAlchemy's statement, parameters and
#: link, and a traceback's notes between chained exceptions.
_NOISE = re.compile(r"^\s*(\[SQL: |\[parameters: |\[SQL parameters: |\(Background on this error at: )")

#: The first line of an exception in a formatted traceback: its class (dotted, maybe with a module) and message.
_EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")


def summarize_exception(exception: BaseException) -> str:
    """The ``last_error`` of a run that raised ``exception``: its class's name and its first meaningful line.

    :param exception: the exception.
    """
    return _summary(type(exception).__name__, str(exception).splitlines())


def summarize_traceback(text: str | None) -> str | None:
    """The ``last_error`` of a run from its formatted traceback (Dramatiq keeps it in the message's options).

    The exception is the last one of the text (the one raised, after those it was raised from), written
    after its frames: its first line names its class (with its module, which is left out) and begins its
    message, whose first meaningful line is kept. A text that is not a traceback gives its last line.

    :param text: the traceback, as :func:`traceback.format_exc` writes it.
    :returns: the summary, or ``None`` for no text.
    """
    if not text or not text.strip():
        return None
    lines = text.rstrip().splitlines()
    starts = [index for index, line in enumerate(lines) if line.startswith("Traceback (most recent call last):")]
    if not starts:
        last = [line for line in lines if line.strip()][-1]
        return _trim(last.strip())
    index = starts[-1] + 1
    while index < len(lines) and (not lines[index].strip() or lines[index][0].isspace()):
        index += 1  # the frames (and their code, their carets), indented
    if index == len(lines):
        return _trim(lines[-1].strip())
    found = _EXCEPTION_LINE.match(lines[index])
    if found is None:
        return _trim(lines[index].strip())
    name = found["type"].rsplit(".", 1)[-1]
    return _summary(name, [found["message"] or "", *lines[index + 1 :]])


def _summary(name: str, message: list[str]) -> str:
    """``name: line``, the first line of ``message`` that says something; ``name`` alone when none does.

    :param name: the exception's class name.
    :param message: the lines of its message.
    """
    for line in message:
        if line.strip() and not _NOISE.match(line):
            return _trim(f"{name}: {' '.join(line.split())}")
    return name


def _trim(text: str) -> str:
    """``text`` cut to :data:`MAX_LENGTH` characters, with an ellipsis when cut."""
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"


__all__ = ["MAX_LENGTH", "summarize_exception", "summarize_traceback"]
