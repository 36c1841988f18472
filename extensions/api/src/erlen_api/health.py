"""erlen-api's readiness check for erlen-ops' ``/readyz``: the rate limits' Redis answers, where configured.

Only with ``API_RATELIMIT_REDIS_URL``. An optional hook: erlen-api does not
depend on erlen-ops.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Mapping

from .state import state_of

if t.TYPE_CHECKING:
    from flask import Flask


class RedisUnreachableError(ConnectionError):
    """The Redis server of the rate limits does not answer."""


def readiness_checks(app: Flask) -> Mapping[str, Callable[[], None]]:
    """``ratelimit_redis``: a ``PING`` to the rate limits' Redis within its timeouts."""
    limiter = state_of(app).ratelimiter
    if limiter is None or limiter.redis is None:
        return {}

    def ratelimit_redis() -> None:
        unreachable = limiter.ping()
        if unreachable is not None:
            raise RedisUnreachableError(f"The rate limits' Redis at {limiter.location} does not answer: {unreachable}")

    return {"ratelimit_redis": ratelimit_redis}
