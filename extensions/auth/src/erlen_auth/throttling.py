"""Throttling of failed log-ins, per account and per client address.

Counts live in a :class:`ThrottleStore`: :class:`MemoryStore` (the default)
keeps them in the process, so each worker process counts on its own;
:class:`RedisStore` (``AUTH_THROTTLE_REDIS_URL``) shares them between every
process and host, with an atomic increment-and-expire script. While Redis
cannot be reached (stopped, hung, out of memory) a :class:`RedisStore` counts
in the process's memory instead, so throttling never goes off and a hung
Redis costs a log-in at most its short timeouts; see :class:`RedisStore`.

:class:`RedisStore` is defined in :mod:`erlen_auth.throttling_redis`, imported by the apps that use it.

:meth:`LoginThrottle.attempt` counts an attempt *before* the password is
checked and decides on the count that increment returned, so the limit holds
however many requests run at once: with a look first and a count after the
check, parallel attempts all saw the same count and all got through. An
attempt that turns out not to be a failure gives its count back.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
import typing as t
from dataclasses import dataclass

import erlen

if t.TYPE_CHECKING:
    from erlen.failover import ServiceHealth as StoreHealth

logger = logging.getLogger("erlen_auth.throttling")


@t.runtime_checkable
class ThrottleStore(t.Protocol):
    """Counters that expire a fixed time after their first hit."""

    def hit(self, key: str, window: int) -> tuple[int, int]:
        """Add one to ``key``'s counter, starting a window of ``window`` seconds if there is none.

        :returns: the count and the seconds left in the window.
        """

    def peek(self, key: str) -> tuple[int, int]:
        """The count of ``key`` and the seconds left in its window; ``(0, 0)`` when there is none."""

    def release(self, key: str) -> None:
        """Take one back from ``key``'s counter (forgetting it at zero); nothing when its window has ended."""

    def reset(self, key: str) -> None:
        """Forget ``key``'s counter."""


#: What a throttle does while its store's backend cannot be reached, in :class:`StoreHealth` lines.
STAND_IN = "using in-process throttling"


class MemoryStore:
    """Counters in this process's memory: each worker process throttles on its own.

    :param clock: the time source, in seconds (tests pass a fake one).
    """

    def __init__(self, clock: t.Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> tuple[int, float] | None:
        entry = self._counts.get(key)
        if entry is not None and entry[1] <= now:
            del self._counts[key]
            return None
        return entry

    def hit(self, key: str, window: int) -> tuple[int, int]:
        with self._lock:
            now = self._clock()
            if len(self._counts) > 100_000:
                self._purge(now)
            entry = self._live(key, now)
            count, expires = (entry[0] + 1, entry[1]) if entry else (1, now + window)
            self._counts[key] = (count, expires)
            return count, max(1, math.ceil(expires - now))

    def peek(self, key: str) -> tuple[int, int]:
        with self._lock:
            now = self._clock()
            entry = self._live(key, now)
            return (entry[0], max(1, math.ceil(entry[1] - now))) if entry else (0, 0)

    def release(self, key: str) -> None:
        with self._lock:
            entry = self._live(key, self._clock())
            if entry is None:
                return  # the window ended meanwhile: there is nothing left to give back
            if entry[0] <= 1:
                del self._counts[key]
            else:
                self._counts[key] = (entry[0] - 1, entry[1])

    def reset(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)

    def _purge(self, now: float) -> None:
        for key in [key for key, (_, expires) in self._counts.items() if expires <= now]:
            del self._counts[key]

    def health(self) -> StoreHealth:
        """Always ok: the process's memory is always there."""
        from erlen.failover import ServiceHealth

        return ServiceHealth("memory", stand_in=STAND_IN)


@dataclass(frozen=True)
class Throttled:
    """A refusal: too many failures.

    :param retry_after: seconds until another attempt is allowed.
    :param scope: ``"account"`` or ``"address"``.
    """

    retry_after: int
    scope: str


class LoginAttempt:
    """A log-in attempt (or email request) counted before its outcome is known; made by :meth:`LoginThrottle.attempt`.

    When :attr:`refused` is ``None`` the attempt holds one place in the
    account's and the address's counts; say how it ended with :meth:`failed`,
    :meth:`succeeded` or :meth:`release` (the first call counts, later ones do nothing).

    :param throttle: the throttle that counted it.
    :param email_key: the account's key, as :func:`~erlen_auth.models.email_key` makes it.
    """

    def __init__(self, throttle: LoginThrottle, email_key: str) -> None:
        self.throttle = throttle
        self.email_key = email_key
        #: The refusal when the attempt is over a limit (and so was not counted); ``None`` when it may go on.
        self.refused: Throttled | None = None
        self._counted: list[str] = []

    def failed(self) -> None:
        """A failure (unknown email, wrong password): it stays counted, as it was counted when it began."""
        self._counted = []

    def succeeded(self) -> None:
        """A log-in with the right password: forget the account's failures, and give back the address's count."""
        counted, self._counted = self._counted, []
        self.throttle.succeeded(self.email_key)
        # The account's counter is gone with its failures; taking one back from it would eat a newer attempt's place.
        account = self.throttle._account(self.email_key)
        self._release([key for key in counted if key != account])

    def release(self) -> None:
        """Not a failure (the right password of an account that may not log in, an error before any check).

        Its places are given back to the account's and the address's counts.
        """
        counted, self._counted = self._counted, []
        self._release(counted)

    def _release(self, keys: list[str]) -> None:
        try:
            for key in keys:
                self.throttle.store.release(key)
        except Exception:
            logger.exception("The log-in throttle's store failed; an attempt stays counted")


class LoginThrottle:
    """Counts failed log-ins per account and per client address, and refuses once either is over its limit.

    A :class:`RedisStore` counts in memory while Redis is unreachable; a
    store that raises is logged and lets the log-in through, so throttling
    never locks everyone out.

    :param store: where counts live.
    :param account_limit: failures allowed per account in a window.
    :param address_limit: failures allowed per client address in a window.
    :param window: seconds after the first failure that the counts are kept.
    :param mail_limit: emails (reset, confirmation) one account may be sent in a window; the
        address limit applies to their requests too.
    """

    def __init__(
        self, store: ThrottleStore, *, account_limit: int, address_limit: int, window: int, mail_limit: int = 3
    ) -> None:
        self.store = store
        self.account_limit = account_limit
        self.address_limit = address_limit
        self.window = window
        self.mail_limit = mail_limit

    @staticmethod
    def _account(email_key: str, kind: str = "login") -> str:
        return f"{kind}:account:" + hashlib.sha256(email_key.encode()).hexdigest()

    @staticmethod
    def _address(address: str | None, kind: str = "login") -> str:
        return f"{kind}:address:" + (address or "unknown")

    def _limits(self, email_key: str, address: str | None, kind: str) -> tuple[tuple[str, int, str], ...]:
        account_limit = self.mail_limit if kind == "mail" else self.account_limit
        return (
            (self._account(email_key, kind), account_limit, "account"),
            (self._address(address, kind), self.address_limit, "address"),
        )

    def attempt(self, email_key: str, address: str | None, *, kind: str = "login") -> LoginAttempt:
        """Count a log-in attempt (``kind="login"``) or an email request (``"mail"``) and decide whether it may go on.

        Call it before the password is checked: each count is one atomic
        increment of the store, and the decision is made on the count that
        increment returned, so however many attempts run at once, at most the
        limit get through. A refused attempt is taken back out of the counts.

        :param email_key: the account's key, as :func:`~erlen_auth.models.email_key` makes it.
        :param address: the client's address (``None`` when unknown).
        :param kind: ``"login"`` (also wrong current passwords) or ``"mail"``.
        :returns: the attempt; refused when its :attr:`LoginAttempt.refused` is set.
        """
        attempt = LoginAttempt(self, email_key)
        try:
            for key, limit, scope in self._limits(email_key, address, kind):
                count, left = self.store.hit(key, self.window)
                attempt._counted.append(key)
                if limit and count > limit:
                    # Refused attempts were never counted as failures: give the places back.
                    attempt.release()
                    attempt.refused = Throttled(left, scope)
                    return attempt
        except Exception:
            logger.exception("The log-in throttle's store failed; the attempt is let through")
        return attempt

    def check(self, email_key: str, address: str | None, *, kind: str = "login") -> Throttled | None:
        """Whether a log-in (``kind="login"``) or an email request (``"mail"``) would be refused now, counting nothing.

        Only a look: deciding on it and counting with :meth:`failed` afterwards
        lets concurrent attempts past the limit; use :meth:`attempt` for that.
        """
        try:
            for key, limit, scope in self._limits(email_key, address, kind):
                count, left = self.store.peek(key)
                if limit and count >= limit:
                    return Throttled(left, scope)
        except Exception:
            logger.exception("The log-in throttle's store failed; the attempt is let through")
        return None

    def failed(self, email_key: str, address: str | None, *, kind: str = "login") -> None:
        """Count a failed log-in (or, with ``kind="mail"``, a request for an email) not begun with :meth:`attempt`."""
        try:
            self.store.hit(self._account(email_key, kind), self.window)
            self.store.hit(self._address(address, kind), self.window)
        except Exception:
            logger.exception("The log-in throttle's store failed; the failure was not counted")

    def health(self) -> StoreHealth:
        """How the store is doing, such as ``redis: degraded, using in-process throttling since ...``."""
        from erlen.failover import ServiceHealth

        health = getattr(self.store, "health", None)
        return (
            t.cast(ServiceHealth, health())
            if callable(health)
            else ServiceHealth(type(self.store).__name__, stand_in=STAND_IN)
        )

    def succeeded(self, email_key: str) -> None:
        """Forget the account's failures (the address's stay counted)."""
        try:
            self.store.reset(self._account(email_key))
        except Exception:
            logger.exception("The log-in throttle's store failed")


__getattr__ = erlen.lazy_exports(
    __name__,
    {
        # The class's old home: it lives in erlen_auth.throttling_redis, imported only by the apps that use it.
        "RedisStore": "erlen_auth.throttling_redis",
        # How a throttle store is doing (erlen.failover.ServiceHealth), ``backend`` being ``"memory"``, ``"redis"``
        # or the class name of another store. Asked only by whoever checks the store's health: with the memory
        # store (no AUTH_THROTTLE_REDIS_URL), a worker never imports erlen.failover (the Redis store's failover).
        "StoreHealth": "erlen.failover:ServiceHealth",
    },
)
