"""Hook call tracing: set ``ERLEN_TRACE_HOOKS=1`` to log every hook call.

Each call of a hook implementation is logged on the ``erlen.trace`` logger
with the hook, the plugin and the time it took::

    erlen.trace: erlen_init_app plugin=db 0.412 ms

Tracing is decided when the app is created; it costs nothing when off.
"""

from __future__ import annotations

import functools
import logging
import os
import time
import typing as t
from collections.abc import Callable, Mapping

if t.TYPE_CHECKING:
    from .registry import PluginRegistry

#: The environment variable that switches tracing on.
TRACE_VARIABLE = "ERLEN_TRACE_HOOKS"

logger = logging.getLogger("erlen.trace")


def tracing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``ERLEN_TRACE_HOOKS`` asks for tracing."""
    value = (os.environ if environ is None else environ).get(TRACE_VARIABLE, "")
    return value.strip().lower() not in ("", "0", "false", "no", "off")


def install(registry: PluginRegistry) -> None:
    """Wrap every registered hook implementation so that each call is logged."""
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    registry.wrap_implementations(_timed)


def _timed(function: Callable[..., object], hook: str, plugin: str) -> Callable[..., object]:
    @functools.wraps(function)
    def traced(*args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            logger.info("%s plugin=%s %.3f ms", hook, plugin, elapsed)

    return traced
