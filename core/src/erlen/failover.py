"""Work on a shared service, and on this process's own stand-in while the service cannot be reached.

What a plugin keeping counters in Redis needs when Redis stops or hangs
(erlen-auth's log-in throttle, erlen-api's rate limits): the request goes on,
counted in the process's memory, the outage and the recovery are each logged
once, one request at a time tries the service again, and health checks can
tell which is in use (:class:`ServiceHealth`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import typing as t
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_T = t.TypeVar("_T")


class Failover:
    """Runs each operation on a shared service, or on a stand-in while the service cannot be reached.

    When an operation on the service raises one of ``errors``, the outage is
    logged once, and this and the following operations run on the stand-in.
    ``retry_interval`` seconds later one operation tries the service again
    (the others keep to the stand-in meanwhile rather than all waiting on a
    hung server); once the service answers, that is logged once and the
    service is used again. Thread-safe.

    :param service: the service in messages, e.g. ``"Redis at 127.0.0.1:6379"`` (see :func:`describe_location`).
    :param while_down: what happens during an outage, in messages, e.g. ``"failed log-ins are counted in
        this process's memory"``.
    :param when_back: what happens once the service answers again, e.g. ``"failed log-ins are counted there
        again"``.
    :param errors: the exceptions that mean the service cannot be reached.
    :param logger: where the outage and the recovery are logged (at ``WARNING``).
    :param retry_interval: seconds between tries of an unreachable service; 0 tries on every operation.
    :param clock: the time source of the retry interval, in seconds (tests pass a fake one).
    :param explain: an error's text for messages (default: :func:`describe_error`).
    :param retried: how the service is tried again, at the end of the outage's message (default: ``"tried every
        <retry_interval> s"``), for a process that tries it only when it next needs it, such as ``"tried again
        with the next log-in"``.
    :param counted: what the operations are, plural, for the recovery's message, e.g. ``"relay passes"``: when
        given, it says how many failed during the outage (raised one of ``errors``, or ran on the stand-in), as
        ``(failed relay passes: 7)``.
    """

    def __init__(
        self,
        *,
        service: str,
        while_down: str,
        when_back: str,
        errors: tuple[type[BaseException], ...],
        logger: logging.Logger,
        retry_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        explain: Callable[[BaseException], str] | None = None,
        retried: str | None = None,
        counted: str | None = None,
    ) -> None:
        self.service = service
        self.while_down = while_down
        self.when_back = when_back
        self.errors = errors
        self.logger = logger
        self.retry_interval = retry_interval
        self._clock = clock
        self._explain = explain or describe_error
        self.retried = retried if retried is not None else f"tried every {retry_interval:g} s"
        self._lock = threading.Lock()
        self._down_since: dt.datetime | None = None
        self._down_reason: str | None = None
        self._retry_at = 0.0
        self.counted = counted
        #: The operations that failed (or ran on the stand-in) since the outage began.
        self._failed = 0

    def run(
        self,
        on_service: Callable[[], _T],
        on_stand_in: Callable[[], _T],
        *,
        reached: Callable[[], bool] | None = None,
    ) -> _T:
        """``on_service()``, or ``on_stand_in()`` while the service is unreachable or when it fails now.

        :param on_service: the operation on the service; it raises one of ``errors`` when the service cannot
            be reached.
        :param on_stand_in: the same operation on the stand-in.
        :param reached: asked once ``on_service()`` has returned: whether it reached the service. One that did
            not (served from a cache of the client's) says nothing of an outage: it neither ends it nor uses up
            the retry turn it took. Every return counts as an answer without it.
        """
        if not self._service_due():
            self._stood_in()
            return on_stand_in()
        try:
            result = on_service()
        except self.errors as exc:
            self._lost(exc)
            return on_stand_in()
        if self._down_since is not None:  # read without the lock: _answered looks again under it
            if reached is None or reached():
                self._answered()
            else:
                self._turn_unused()
        return result

    def outage(self) -> tuple[dt.datetime, str] | None:
        """Since when (UTC) and why the service cannot be reached, or ``None`` while it is in use."""
        with self._lock:
            if self._down_since is None:
                return None
            return self._down_since, t.cast(str, self._down_reason)

    def health(self, backend: str, stand_in: str) -> ServiceHealth:
        """How the service is doing, for health checks: in use, or since when and why not.

        :param backend: the service's short name in the line, e.g. ``"redis"``.
        :param stand_in: what is done during an outage, in the line, e.g. ``"counting in this process's memory"``.
        """
        outage = self.outage()
        if outage is None:
            return ServiceHealth(backend, stand_in=stand_in)
        return ServiceHealth(backend, True, *outage, stand_in=stand_in)

    def _service_due(self) -> bool:
        """Whether to use the service now: it is up, or down and its retry time has come (claimed by this caller)."""
        if self._down_since is None:
            return True
        with self._lock:
            if self._down_since is None:
                return True
            now = self._clock()
            if now < self._retry_at:
                return False
            self._retry_at = now + self.retry_interval
            return True

    def _stood_in(self) -> None:
        """Count an operation run on the stand-in without trying the service (its retry time has not come)."""
        with self._lock:
            if self._down_since is not None:
                self._failed += 1

    def _lost(self, exc: BaseException) -> None:
        with self._lock:
            self._retry_at = self._clock() + self.retry_interval
            if self._down_since is not None:
                self._failed += 1
                return  # logged when it was lost
            self._failed = 1
            self._down_since = dt.datetime.now(dt.UTC)
            # Kept for the message: a call that finds the service back may clear the attribute before it is logged.
            reason = self._down_reason = self._explain(exc)
        self.logger.warning(
            "%s cannot be reached (%s): %s until it answers again (%s).",
            self.service,
            reason,
            self.while_down,
            self.retried,
        )

    def _turn_unused(self) -> None:
        """Give back the retry turn of a call that did not reach the service: the next call tries it instead."""
        with self._lock:
            if self._down_since is not None:
                self._retry_at = self._clock()

    def _answered(self) -> None:
        with self._lock:
            if self._down_since is None:
                return
            since, self._down_since, self._down_reason = self._down_since, None, None
            failed, self._failed = self._failed, 0
        seconds = (dt.datetime.now(dt.UTC) - since).total_seconds()
        if self.counted is None:
            self.logger.warning("%s answers again after %.0f s: %s.", self.service, seconds, self.when_back)
        else:
            self.logger.warning(
                "%s answers again after %.0f s (failed %s: %d): %s.",
                self.service,
                seconds,
                self.counted,
                failed,
                self.when_back,
            )


@dataclass(frozen=True)
class ServiceHealth:
    """How a service with a stand-in is doing, for health checks: ``str()`` of it is a line for people.

    :param backend: what is in use when all is well: ``"redis"``, ``"memory"``...
    :param degraded: whether the service cannot be reached and its stand-in is in use.
    :param since: when it became degraded (UTC).
    :param reason: the error that made it so.
    :param stand_in: what is done while degraded, for the line.
    """

    backend: str
    degraded: bool = False
    since: dt.datetime | None = None
    reason: str | None = None
    #: Wording only: two healths alike but for it are equal (``health() == StoreHealth("redis")``).
    stand_in: str = field(default="using this process's memory", compare=False)

    def __str__(self) -> str:
        if not self.degraded:
            return f"{self.backend}: ok"
        since = f" since {self.since:%Y-%m-%d %H:%M:%S} UTC" if self.since else ""
        reason = f" ({self.reason})" if self.reason else ""
        return f"{self.backend}: degraded, {self.stand_in}{since}{reason}"


def describe_error(exc: BaseException) -> str:
    """An error for messages: its class, and its message when it has one.

    :param exc: the error.
    """
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def describe_location(url: str, default_port: int) -> str:
    """A service's host and port for messages, from its URL, never the URL's user or password.

    :param url: the service's URL, e.g. ``redis://:secret@cache:6380/0``.
    :param default_port: the port of a URL without one.
    :returns: ``host:port`` (``[::1]:6379`` for an IPv6 address); a socket's path for a URL without host
        (``unix:///run/redis.sock``).
    """
    parts = urlsplit(url)
    try:
        port = parts.port or default_port
    except ValueError:  # a port that is no number
        return "the configured URL"
    if not parts.hostname:
        return parts.path or "a socket"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname  # an IPv6 address, as URLs write it
    return f"{host}:{port}"
