"""The log-in throttle's counters in Redis (``AUTH_THROTTLE_REDIS_URL``): :class:`RedisStore`.

A module of its own, imported by an app that sets ``AUTH_THROTTLE_REDIS_URL``
(and by ``erlen check`` and the readiness check, which ask the store): an app
counting in memory, the default, never needs it. Its messages go to the logger
``erlen_auth.throttling``, as the rest of the throttle's.
"""

from __future__ import annotations

import logging
import time
import typing as t

from erlen.failover import Failover, ServiceHealth, describe_error, describe_location

from .throttling import STAND_IN, MemoryStore

logger = logging.getLogger("erlen_auth.throttling")


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
        #: Where counts go while Redis cannot be reached.
        self.fallback = MemoryStore(clock)
        self._script = client.register_script(_HIT_SCRIPT)
        self._release_script = client.register_script(_RELEASE_SCRIPT)
        self.location = _describe_location(url, client)
        self.failover = Failover(
            service=f"Redis at {self.location}",
            while_down="failed log-ins are counted in this process's memory",
            when_back="failed log-ins are counted there again",
            errors=self._errors,
            logger=logger,
            retry_interval=retry_interval,
            clock=clock,
        )

    def hit(self, key: str, window: int) -> tuple[int, int]:
        return self.failover.run(lambda: self._redis_hit(key, window), lambda: self.fallback.hit(key, window))

    def peek(self, key: str) -> tuple[int, int]:
        return self.failover.run(lambda: self._redis_peek(key), lambda: self.fallback.peek(key))

    def release(self, key: str) -> None:
        self.failover.run(lambda: self._release_script(keys=[self.prefix + key]), lambda: self.fallback.release(key))

    def reset(self, key: str) -> None:
        self.failover.run(lambda: self.client.delete(self.prefix + key), lambda: self.fallback.reset(key))

    def health(self) -> ServiceHealth:
        """Whether Redis is in use, or the store counts in this process's memory (since when, and why)."""
        return self.failover.health("redis", STAND_IN)

    def ping(self) -> str | None:
        """Ask Redis for an answer now, within the timeouts; changes nothing (``erlen check`` asks this way).

        :returns: why Redis cannot be reached, or ``None`` when it answered.
        """
        try:
            self.client.ping()
        except self._errors as exc:
            return describe_error(exc)
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


def _describe_location(url: str | None, client: t.Any) -> str:
    """Redis's host and port for messages, never the URL's password."""
    if url:
        return describe_location(url, 6379)
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
