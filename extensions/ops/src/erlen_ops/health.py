"""Readiness: every enabled plugin's checks, each bounded by a timeout, the answer cached briefly."""

from __future__ import annotations

import logging
import math
import threading
import time
import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import erlen
from erlen.redaction import redact_text

from .bounded import BoundedCalls

if t.TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger("erlen_ops.health")


def redact(text: str) -> str:
    """``text`` with its passwords replaced by ``***``: of URLs (to their last ``@``), ``password=`` parameters
    and other announced credentials, as erlen's JSON log lines hide them (:func:`erlen.redaction.redact_text`).

    :param text: a message of an exception a check or gauge raised.
    """
    return redact_text(text)


def describe_error(error: BaseException) -> str:
    """``error``'s type and message, passwords hidden, for a log line; never raises.

    :param error: what a check or gauge raised; its ``__str__`` may itself raise.
    """
    try:
        message = str(error)
    except Exception as exc:  # a broken __str__ must not turn the answer into a 500
        message = f"<its message could not be read: {type(exc).__name__}>"
    return f"{type(error).__name__}: {redact(message)}"


#: What a check may return: ``None`` or numbers by name.
CheckFunction = Callable[[], Mapping[str, float] | None]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one readiness check.

    :param name: ``plugin.check``.
    :param status: ``"ok"``, ``"fail"`` (it raised) or ``"timeout"``.
    :param seconds: how long it ran (the timeout, for one that did not finish).
    :param error: the type name of the exception it raised; never its message.
    :param details: the numbers it returned.
    """

    name: str
    status: t.Literal["ok", "fail", "timeout"]
    seconds: float
    error: str | None = None
    details: Mapping[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, t.Any]:
        """The result as shown by ``/readyz``."""
        shown: dict[str, t.Any] = {"status": self.status, "time_ms": round(self.seconds * 1000, 3)}
        if self.error is not None:
            shown["error"] = self.error
        shown.update(self.details)
        return shown


@dataclass(frozen=True)
class Readiness:
    """The answer of ``/readyz``: whether every check passed, and each result."""

    results: tuple[CheckResult, ...]
    checked_at: float

    @property
    def ready(self) -> bool:
        """Whether every check passed."""
        return all(result.status == "ok" for result in self.results)

    def as_json(self) -> dict[str, t.Any]:
        """The answer's JSON body."""
        return {
            "status": "ok" if self.ready else "fail",
            "checks": {result.name: result.as_json() for result in self.results},
        }


def collect_checks(app: Flask) -> dict[str, CheckFunction]:
    """Every enabled plugin's checks, named ``plugin.check``.

    :raises erlen.PluginError: a plugin returned something else than a mapping of names to callables.
    """
    registry = erlen.plugins_of(app)
    checks: dict[str, CheckFunction] = {}
    for plugin, returned in registry.call_each("erlen_health_checks", app=app):
        if returned is None:
            continue
        if not isinstance(returned, Mapping):
            raise erlen.PluginError(
                f"Plugin {plugin.name!r}: erlen_health_checks returned {type(returned).__name__}; return a dict "
                "of check names to functions without arguments.",
                plugin=plugin.name,
            )
        for name, check in returned.items():
            if not isinstance(name, str) or not callable(check):
                raise erlen.PluginError(
                    f"Plugin {plugin.name!r}: erlen_health_checks returned {name!r}: {check!r}; each entry must be "
                    "a check name (a str) and a function without arguments.",
                    plugin=plugin.name,
                )
            checks[f"{plugin.name}.{name}"] = check
    return checks


class ReadinessChecker:
    """Runs an app's readiness checks, at most once per ``cache_seconds`` per process.

    :param app: the app, pushed as the app context of each check.
    :param checks: the checks, by name (from :func:`collect_checks`).
    :param timeout: seconds each run of the checks may take; checks run in parallel.
    :param cache_seconds: how long an answer is reused.
    :param clock: the time source, in seconds.
    """

    def __init__(
        self,
        app: Flask,
        checks: Mapping[str, CheckFunction],
        *,
        timeout: float,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.checks = dict(checks)
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Readiness | None = None
        self._calls = BoundedCalls(app, timeout=timeout, thread_prefix="erlen-ops-check-", clock=clock)
        # Each check's numbers are read on its own thread too: a result that raises when read (or holds a number
        # no float can hold) fails that check, not the answer.
        self._bounded_checks = {name: _reading_numbers(check) for name, check in self.checks.items()}

    def readiness(self) -> Readiness:
        """The current answer: the cached one while fresh, otherwise the checks run now.

        Concurrent callers wait for one run rather than starting their own.
        """
        with self._lock:
            last = self._last
            if last is not None and self._clock() - last.checked_at < self.cache_seconds:
                return last
            self._last = self._run()
            return self._last

    def _run(self) -> Readiness:
        results = []
        for name, outcome in self._calls.run(self._bounded_checks).items():
            if outcome.status == "ok":
                details = t.cast(dict[str, float], outcome.value)
                results.append(CheckResult(name, "ok", outcome.seconds, details=details))
                continue
            if outcome.status == "fail":
                error = t.cast(BaseException, outcome.error)
                logger.warning("Readiness check %s failed: %s", name, describe_error(error))
                results.append(CheckResult(name, "fail", outcome.seconds, type(error).__name__))
                continue
            if outcome.status == "timeout":
                logger.warning("Readiness check %s did not finish within %s seconds", name, self.timeout)
            else:
                logger.debug("Readiness check %s is still running, since an earlier answer", name)
            results.append(CheckResult(name, "timeout", self.timeout))
        return Readiness(tuple(results), self._clock())


def _reading_numbers(check: CheckFunction) -> Callable[[], dict[str, float]]:
    """``check``, returning the numbers of what it returns (see :func:`_numbers`)."""
    return lambda: _numbers(check())


def _numbers(returned: object) -> dict[str, float]:
    """The numbers a check returned, by name: finite ints and floats, under names ``/readyz`` does not use."""
    if not isinstance(returned, Mapping):
        return {}
    return {
        key: value
        for key, value in returned.items()
        if isinstance(key, str) and key not in ("status", "time_ms", "error") and _finite_number(value)
    }


def _finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond a float's range: a reader of the JSON would take it for infinity
        return False
