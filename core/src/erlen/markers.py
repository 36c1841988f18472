"""The pluggy markers of the project ``erlen``."""

from __future__ import annotations

import pluggy

#: Marks a function as the implementation of an Erlen hook.
#: Options: ``optionalhook=True`` for a hook of a plugin that may not be
#: enabled; ``tryfirst``/``trylast`` to run before or after other plugins;
#: ``wrapper=True`` for a generator that wraps the other implementations.
hookimpl = pluggy.HookimplMarker("erlen")

#: Marks a function as a hook specification. Extensions use it for their own
#: hooks; see :func:`erlen.hookspecs.erlen_hookspecs`.
hookspec = pluggy.HookspecMarker("erlen")
