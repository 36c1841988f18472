"""erlen-auth's readiness check for erlen-ops' ``/readyz``: the log-in throttle's Redis answers, where configured.

Only with ``AUTH_THROTTLE_REDIS_URL``: counting in memory has nothing to
check. An optional hook: erlen-auth does not depend on erlen-ops.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Mapping

from .state import state_of

if t.TYPE_CHECKING:
    from flask import Flask


class RedisUnreachableError(ConnectionError):
    """The Redis server of the log-in throttle does not answer."""


def readiness_checks(app: Flask) -> Mapping[str, Callable[[], None]]:
    """``throttle_redis``: a ``PING`` to the throttle's Redis within its timeouts."""
    from .throttling_redis import RedisStore

    store = state_of(app).throttle.store
    if not isinstance(store, RedisStore):
        return {}

    def throttle_redis() -> None:
        unreachable = store.ping()
        if unreachable is not None:
            raise RedisUnreachableError(f"The throttle's Redis at {store.location} does not answer: {unreachable}")

    return {"throttle_redis": throttle_redis}
