"""System checks: problems in an app's setup, found by ``erlen check``.

Plugins report problems through the ``erlen_checks`` hook as
:class:`CheckMessage` objects made with :func:`error`, :func:`warning` or
:func:`info`.
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass, replace

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from flask import Flask


class Level(enum.IntEnum):
    """How serious a check message is. ``erlen check`` fails on errors."""

    INFO = 10
    WARNING = 30
    ERROR = 40


@dataclass(frozen=True)
class CheckMessage:
    """One problem a system check found.

    :param level: how serious it is.
    :param id: a stable identifier, such as ``erlen.E001``, that users can
        look up and silence.
    :param message: what is wrong.
    :param hint: what to do about it.
    :param plugin: the plugin that reported it; filled in by Erlen.
    """

    level: Level
    id: str
    message: str
    hint: str = ""
    plugin: str = ""

    def from_plugin(self, plugin: str) -> CheckMessage:
        """A copy of this message attributed to ``plugin``."""
        return self if self.plugin else replace(self, plugin=plugin)

    def __str__(self) -> str:
        text = f"{self.level.name} {self.id} [{self.plugin}] {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


def error(id: str, message: str, hint: str = "") -> CheckMessage:
    """A problem that must be fixed; ``erlen check`` exits non-zero."""
    return CheckMessage(Level.ERROR, id, message, hint)


def warning(id: str, message: str, hint: str = "") -> CheckMessage:
    """A likely mistake."""
    return CheckMessage(Level.WARNING, id, message, hint)


def info(id: str, message: str, hint: str = "") -> CheckMessage:
    """Something worth knowing."""
    return CheckMessage(Level.INFO, id, message, hint)


def run_checks(app: Flask, *, deploy: bool = False) -> list[CheckMessage]:
    """Run the ``erlen_checks`` hook of every enabled plugin, most serious first.

    A check that raises is reported as an error of its plugin rather than
    stopping the others.

    :param app: the app to check; an app context is pushed if needed.
    :param deploy: include production checks.
    """
    from .app import plugins_of
    from .plugins.registry import hook_items

    registry = plugins_of(app)
    found: list[CheckMessage] = []
    with app.app_context():
        for impl in registry.implementations("erlen_checks"):
            arguments = {"app": app, "deploy": deploy}
            try:
                results = t.cast(
                    "Iterable[CheckMessage] | None", impl.function(*(arguments[name] for name in impl.argnames))
                )
                messages = hook_items(impl.plugin_name, "erlen_checks", results, "CheckMessage objects")
                found.extend(message.from_plugin(impl.plugin_name) for message in messages)
            except Exception as exc:
                found.append(
                    error(
                        "erlen.E000",
                        f"The system check of plugin {impl.plugin_name!r} failed: {type(exc).__name__}: {exc}",
                        "Fix the plugin's erlen_checks implementation or report it to its authors.",
                    ).from_plugin(impl.plugin_name)
                )
    return sorted(found, key=lambda message: -message.level)
