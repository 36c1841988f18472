"""The log-in throttle's counters in Redis (``AUTH_THROTTLE_REDIS_URL``): :class:`RedisStore`.

A module of its own, imported by an app that sets ``AUTH_THROTTLE_REDIS_URL``
(and by ``erlen check`` and the readiness check, which ask the store): an app
counting in memory, the default, never needs it. Its messages go to the logger
``erlen_auth.throttling``, as the rest of the throttle's.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import typing as t
from urllib.parse import urlsplit

from .throttling import MemoryStore, StoreHealth

logger = logging.getLogger("erlen_auth.throttling")

_T = t.TypeVar("_T")


#: Increment a counter and start its expiry on the first hit, atomically; returns the count and its TTL.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""

#: Take one back from a counter that still exists (a DECR of an expired key would make one without expiry).
_RELEASE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local count = redis.call('DECR', KEYS[1])
if count <= 0 then
  redis.call('DEL', KEYS[1])
end
return count
"""


class RedisStore:
    """Counters in Redis, shared by every process and host that uses the same server.

    Redis is given short timeouts, so a hung server delays an operation by at
    most ``connect_timeout`` plus ``read_timeout``. When an operation fails
    (Redis stopped, hung or refusing), the store logs it once and counts in
    :attr:`fallback`, a :class:`MemoryStore` of this process, so throttling
    goes on, per process, through the outage. It tries Redis again
    ``retry_interval`` seconds later (one request tries; the others keep to
    memory meanwhile), and once Redis answers it logs that once and counts
    there again. :meth:`health` tells which it is using.

    :param url: a ``redis://`` URL (``AUTH_THROTTLE_REDIS_URL``).
    :param prefix: put before every key.
    :param client: a ready client instead of ``url`` (tests); its own timeouts apply.
    :param connect_timeout: seconds to wait for a connection (``AUTH_THROTTLE_REDIS_CONNECT_TIMEOUT``).
    :param read_timeout: seconds to wait for an answer (``AUTH_THROTTLE_REDIS_READ_TIMEOUT``).
    :param retry_interval: seconds between tries of an unreachable Redis
        (``AUTH_THROTTLE_REDIS_RETRY_INTERVAL``); 0 tries on every operation.
    :param clock: the time source of the retry interval and the fallback's windows, in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "erlen-auth:throttle:",
        client: t.Any = None,
        connect_timeout: float = 0.25,
        read_timeout: float = 0.25,
        retry_interval: float = 5.0,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            import redis
        except ImportError:
            if client is None:
                from .errors import AuthError

                raise AuthError(
                    "AUTH_THROTTLE_REDIS_URL is set but the redis package is not installed: install erlen-auth[redis]."
                ) from None
            self._errors: tuple[type[BaseException], ...] = (OSError,)
        else:
            self._errors = (redis.RedisError, OSError)
        if client is None:
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            client = redis.Redis.from_url(
                t.cast(str, url),
                socket_timeout=read_timeout,
                socket_connect_timeout=connect_timeout,
                # One immediate retry on a broken connection (a pooled one Redis closed on a restart), none
                # on a timeout: retrying a hung server would multiply the wait every log-in pays.
                retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            )
        self.client = client
        self.prefix = prefix
        self.retry_interval = retry_interval
        #: Where counts go while Redis cannot be reached.
        self.fallback = MemoryStore(clock)
        self._clock = clock
        self._script = client.register_script(_HIT_SCRIPT)
        self._release_script = client.register_script(_RELEASE_SCRIPT)
        self._lock = threading.Lock()
        self._down_since: dt.datetime | None = None
        self._down_reason: str | None = None
        self._retry_at = 0.0
        self.location = _describe_location(url, client)

    def hit(self, key: str, window: int) -> tuple[int, int]:
        return self._either(lambda: self._redis_hit(key, window), lambda: self.fallback.hit(key, window))

    def peek(self, key: str) -> tuple[int, int]:
        return self._either(lambda: self._redis_peek(key), lambda: self.fallback.peek(key))

    def release(self, key: str) -> None:
        self._either(lambda: self._release_script(keys=[self.prefix + key]), lambda: self.fallback.release(key))

    def reset(self, key: str) -> None:
        self._either(lambda: self.client.delete(self.prefix + key), lambda: self.fallback.reset(key))

    def health(self) -> StoreHealth:
        """Whether Redis is in use, or the store counts in this process's memory (since when, and why)."""
        with self._lock:
            return StoreHealth("redis", self._down_since is not None, self._down_since, self._down_reason)

    def ping(self) -> str | None:
        """Ask Redis for an answer now, within the timeouts; changes nothing (``erlen check`` asks this way).

        :returns: why Redis cannot be reached, or ``None`` when it answered.
        """
        try:
            self.client.ping()
        except self._errors as exc:
            return _describe_error(exc)
        return None

    def _redis_hit(self, key: str, window: int) -> tuple[int, int]:
        count, ttl = self._script(keys=[self.prefix + key], args=[window])
        return int(count), max(1, int(ttl))

    def _redis_peek(self, key: str) -> tuple[int, int]:
        pipe = self.client.pipeline(transaction=False)
        pipe.get(self.prefix + key)
        pipe.ttl(self.prefix + key)
        raw, ttl = pipe.execute()
        if raw is None:
            return 0, 0
        return int(raw), max(1, int(ttl))

    def _either(self, in_redis: t.Callable[[], _T], in_memory: t.Callable[[], _T]) -> _T:
        """``in_redis()``, or ``in_memory()`` while Redis is unreachable or when it fails now."""
        if not self._redis_due():
            return in_memory()
        try:
            result = in_redis()
        except self._errors as exc:
            self._lost(exc)
            return in_memory()
        if self._down_since is not None:  # read without the lock: _answered looks again under it
            self._answered()
        return result

    def _redis_due(self) -> bool:
        """Whether to use Redis now: it is up, or down and its retry time has come (claimed by this caller)."""
        if self._down_since is None:
            return True
        with self._lock:
            if self._down_since is None:
                return True
            now = self._clock()
            if now < self._retry_at:
                return False
            # This caller tries Redis; requests meanwhile keep to memory instead of all waiting on a hung server.
            self._retry_at = now + self.retry_interval
            return True

    def _lost(self, exc: BaseException) -> None:
        with self._lock:
            self._retry_at = self._clock() + self.retry_interval
            if self._down_since is not None:
                return  # logged when it was lost
            self._down_since = dt.datetime.now(dt.UTC)
            self._down_reason = _describe_error(exc)
        logger.warning(
            "Redis at %s cannot be reached (%s): failed log-ins are counted in this process's memory until it "
            "answers again (tried every %g s).",
            self.location,
            self._down_reason,
            self.retry_interval,
        )

    def _answered(self) -> None:
        with self._lock:
            if self._down_since is None:
                return
            since, self._down_since, self._down_reason = self._down_since, None, None
        seconds = (dt.datetime.now(dt.UTC) - since).total_seconds()
        logger.warning(
            "Redis at %s answers again after %.0f s: failed log-ins are counted there again.", self.location, seconds
        )


def _describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _describe_location(url: str | None, client: t.Any) -> str:
    """Redis's host and port for messages, never the URL's password."""
    if url:
        parts = urlsplit(url)
        try:
            return f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else (parts.path or "a socket")
        except ValueError:
            return "the configured URL"
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
