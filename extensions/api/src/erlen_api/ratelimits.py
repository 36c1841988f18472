"""Rate limits per access token and per client address, with the IETF draft's ``RateLimit`` headers.

Requests authenticated with a bearer token count against the token
(``API_RATELIMIT_TOKEN``); all others (the session cookie, anonymous
requests, and requests whose token is refused) against the client's address
(``API_RATELIMIT_ADDRESS``; an IPv6 address by its /64 network, which one
client usually holds whole). Limits are written in the notation of the
`limits <https://limits.readthedocs.io/>`_ library, which counts them:
``"100/minute"``, or several at once, ``"10/second;1000/hour"``.

Every response of a limited endpoint says where its client stands
(draft-ietf-httpapi-ratelimit-headers)::

    RateLimit-Policy: "address-60s";q=100;w=60
    RateLimit: "address-60s";r=42;t=17

and a request over a limit is answered ``429 Too Many Requests`` with
``Retry-After`` (seconds) before its inputs are parsed or its view runs.

An endpoint declares its own limit with ``ratelimit="5/minute"`` (counted for
that endpoint alone, per token or address, instead of the app's limits), or
``ratelimit=False`` to have none.

Counts live in this process's memory, or, with ``API_RATELIMIT_REDIS_URL``, in
Redis, shared by every worker and host. As erlen-auth's throttling does,
Redis gets short timeouts, and while it cannot be reached each process counts
in its own memory (logged once), trying Redis again every
``API_RATELIMIT_REDIS_RETRY_INTERVAL`` seconds: limits never go off, and a hung
Redis never hangs the API.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import math
import time
import typing as t
from dataclasses import dataclass

from flask import Flask, Request, current_app, g, request
from limits import RateLimitItem, parse_many, strategies
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from werkzeug.wrappers import Response

from erlen.failover import Failover, ServiceHealth, describe_error, describe_location

from .problems import Problem
from .security import Identity, authenticate
from .state import state_of

if t.TYPE_CHECKING:
    from .endpoint import Endpoint

logger = logging.getLogger("erlen_api.ratelimits")

#: The counting strategies of ``API_RATELIMIT_STRATEGY``, by name (see the limits library's documentation).
STRATEGIES: dict[str, type[strategies.RateLimiter]] = {
    "fixed-window": strategies.FixedWindowRateLimiter,
    "moving-window": strategies.MovingWindowRateLimiter,
    "sliding-window": strategies.SlidingWindowCounterRateLimiter,
}

#: The attribute of ``flask.g`` holding the usage of the current request's limits, for the headers.
_G_USAGE = "_erlen_api_ratelimit_usage"

_T = t.TypeVar("_T")


@functools.lru_cache(maxsize=256)
def parse_limits(value: str) -> tuple[RateLimitItem, ...]:
    """The limits a setting or an endpoint's ``ratelimit`` writes: ``"100/minute"``, ``"10/second;1000/hour"``.

    :param value: the limits, in the limits library's notation.
    :raises ValueError: the notation is not understood, saying what it should look like.
    """
    try:
        return tuple(parse_many(value))
    except (ValueError, TypeError):
        raise ValueError(
            f"must be limits such as '100/minute' or '10/second;1000/hour' (a count, a slash, a period), not {value!r}"
        ) from None


def validate_setting(value: str | None) -> None:
    """Check the value of ``API_RATELIMIT_ADDRESS`` or ``API_RATELIMIT_TOKEN``.

    :param value: the setting's value.
    :raises ValueError: it is not limits in the limits library's notation.
    """
    if value is not None:
        parse_limits(value)


def validate_declared(value: object) -> None:
    """Check an endpoint's ``ratelimit``: limits in the limits library's notation, ``False``, or ``None``.

    :param value: the declared value.
    :raises TypeError: it is none of these, or its notation is not understood.
    """
    if value is None or value is False:
        return
    if not isinstance(value, str):
        raise TypeError(f"An endpoint's ratelimit is limits such as '5/minute', or False for none; not {value!r}.")
    try:
        parse_limits(value)
    except ValueError as exc:
        raise TypeError(f"An endpoint's ratelimit {exc}.") from None


@dataclass(frozen=True)
class Usage:
    """Where a request stands against one limit, after it was counted.

    :param policy: the limit's identifier in the headers, such as ``address-60s``.
    :param quota: the requests the limit allows in a window.
    :param window: the window's length, in seconds.
    :param remaining: the requests left in the window.
    :param reset: seconds until the window frees requests again.
    :param exceeded: whether this request was over the limit.
    """

    policy: str
    quota: int
    window: int
    remaining: int
    reset: int
    exceeded: bool


#: How a rate limiter's store is doing (:class:`erlen.failover.ServiceHealth`): ``"redis"`` or ``"memory"``.
LimiterHealth = ServiceHealth

#: What the limiter does while Redis cannot be reached, in :class:`LimiterHealth` lines.
STAND_IN = "counting in this process's memory"


class RateLimiter:
    """Counts requests against limits, in Redis (shared by every process) or in this process's memory.

    :param strategy: a name of :data:`STRATEGIES` (``API_RATELIMIT_STRATEGY``).
    :param redis_url: a ``redis://`` URL (``API_RATELIMIT_REDIS_URL``); ``None`` counts in memory.
    :param key_prefix: put before every key in Redis (``API_RATELIMIT_KEY_PREFIX``).
    :param connect_timeout: seconds to wait for a connection to Redis.
    :param read_timeout: seconds to wait for Redis to answer.
    :param retry_interval: seconds between tries of an unreachable Redis; 0 tries on every request.
    :param clock: the time source of the retry interval, in seconds.
    """

    def __init__(
        self,
        *,
        strategy: str = "fixed-window",
        redis_url: str | None = None,
        key_prefix: str = "erlen-api:ratelimit",
        connect_timeout: float = 0.25,
        read_timeout: float = 0.25,
        retry_interval: float = 5.0,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        kind = STRATEGIES[strategy]
        #: Where counts go without Redis, or while it cannot be reached.
        self.memory = kind(MemoryStorage())
        self.redis: strategies.RateLimiter | None = None
        self.location: str | None = None
        #: Chooses between Redis and :attr:`memory` (``None`` without Redis).
        self.failover: Failover | None = None
        if redis_url:
            try:
                import redis
                from redis.backoff import NoBackoff
                from redis.retry import Retry
            except ImportError:
                raise RuntimeError(
                    "API_RATELIMIT_REDIS_URL is set but the redis package is not installed: install erlen-api[redis]."
                ) from None
            options: dict[str, t.Any] = {
                "socket_timeout": read_timeout,
                "socket_connect_timeout": connect_timeout,
                # One immediate retry on a broken connection (a pooled one Redis closed on a restart), none on a
                # timeout: retrying a hung server would multiply the wait every request pays.
                "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            }
            self.redis = kind(RedisStorage(redis_url, key_prefix=key_prefix, wrap_exceptions=True, **options))
            self.location = describe_location(redis_url, 6379)
            self.failover = Failover(
                service=f"Redis at {self.location}",
                while_down="API rate limits are counted in this process's memory",
                when_back="API rate limits are counted there again",
                errors=(StorageError, redis.RedisError, OSError),
                logger=logger,
                retry_interval=retry_interval,
                clock=clock,
                explain=_describe_error,
            )
        #: Whether the app's settings limit every endpoint (set by :func:`make_limiter`); when not, only
        #: endpoints declaring a ``ratelimit`` are counted.
        self.limits_by_default = False
        #: Whether a request was ever counted: until one is, no response has rate limit headers to add.
        self.counted = False

    def hit(self, item: RateLimitItem, *identifiers: str) -> tuple[bool, int, float]:
        """Count one request against ``item`` for ``identifiers``.

        :param item: the limit.
        :param identifiers: what the count is kept for (the client, the endpoint).
        :returns: whether the request is within the limit, the requests left and when the window resets
            (seconds since the epoch).
        """

        def count(strategy: strategies.RateLimiter) -> tuple[bool, int, float]:
            allowed = strategy.hit(item, *identifiers)
            stats = strategy.get_window_stats(item, *identifiers)
            return allowed, stats.remaining, stats.reset_time

        return self._either(count)

    def health(self) -> LimiterHealth:
        """Whether Redis is in use, or the limiter counts in this process's memory (since when, and why)."""
        if self.failover is None:
            return LimiterHealth("memory", stand_in=STAND_IN)
        return self.failover.health("redis", STAND_IN)

    def ping(self) -> str | None:
        """Ask Redis for an answer now, within the timeouts; changes nothing (``erlen check`` asks this way).

        :returns: why Redis cannot be reached, or ``None`` when it answered (or counts are kept in memory).
        """
        if self.redis is None or self.failover is None:
            return None
        try:
            t.cast(t.Any, self.redis.storage).get_connection().ping()
        except self.failover.errors as exc:
            return _describe_error(exc)
        return None

    def _either(self, count: t.Callable[[strategies.RateLimiter], _T]) -> _T:
        """``count`` in Redis, or in memory without Redis, while it is unreachable, or when it fails now."""
        redis = self.redis
        if redis is None or self.failover is None:
            return count(self.memory)
        return self.failover.run(lambda: count(redis), lambda: count(self.memory))


def _describe_error(exc: BaseException) -> str:
    """An error for messages: its class and message; for limits' ``StorageError``, the storage's own error's.

    :param exc: the error.
    """
    return describe_error(exc.storage_error if isinstance(exc, StorageError) else exc)


def make_limiter(app: Flask) -> RateLimiter:
    """The limiter of ``app``, from its settings.

    :param app: the app.
    """
    config = app.config
    limiter = RateLimiter(
        strategy=config["API_RATELIMIT_STRATEGY"],
        redis_url=config["API_RATELIMIT_REDIS_URL"],
        key_prefix=config["API_RATELIMIT_KEY_PREFIX"],
        connect_timeout=config["API_RATELIMIT_REDIS_CONNECT_TIMEOUT"],
        read_timeout=config["API_RATELIMIT_REDIS_READ_TIMEOUT"],
        retry_interval=config["API_RATELIMIT_REDIS_RETRY_INTERVAL"],
    )
    limiter.limits_by_default = bool(config["API_RATELIMIT_ADDRESS"] or config["API_RATELIMIT_TOKEN"])
    return limiter


def client_address() -> str:
    """The client's address as counted: the request's address (after ``TRUSTED_PROXY_HOPS``), an IPv6 one by /64."""
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _token_key() -> str:
    """A key of the request's bearer token that does not reveal it."""
    _, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return hashlib.sha256(credentials.strip().encode()).hexdigest()[:32]


def limits_for(app: Flask, endpoint: Endpoint, kind: t.Literal["address", "token"]) -> tuple[RateLimitItem, ...]:
    """The limits an endpoint's requests of ``kind`` count against: its own, or the app's.

    :param app: the app.
    :param endpoint: the endpoint.
    :param kind: ``"token"`` for requests authenticated with a bearer token, ``"address"`` for the others.
    """
    declared = getattr(endpoint.options, "ratelimit", None)
    if declared is False:
        return ()
    if isinstance(declared, str):
        return parse_limits(declared)
    setting = app.config.get("API_RATELIMIT_TOKEN" if kind == "token" else "API_RATELIMIT_ADDRESS")
    return parse_limits(setting) if setting else ()


def _count(app: Flask, limiter: RateLimiter, endpoint: Endpoint, kind: t.Literal["address", "token"]) -> None:
    """Count the current request against its limits; note where it stands for the headers.

    :param app: the app.
    :param limiter: the app's limiter.
    :param endpoint: the endpoint called.
    :param kind: which limits: the token's or the address's.
    :raises Problem: 429 with ``Retry-After`` when the request is over a limit.
    """
    items = limits_for(app, endpoint, kind)
    if not items:
        return
    limiter.counted = True
    client = _token_key() if kind == "token" else client_address()
    scope = "*" if isinstance(getattr(endpoint.options, "ratelimit", None), bool | None) else _endpoint_key(endpoint)
    usage = []
    for item in items:
        allowed, remaining, reset_at = limiter.hit(item, kind, scope, client)
        now = time.time()
        window = item.get_expiry()
        usage.append(
            Usage(
                f"{kind}-{window}s",
                item.amount,
                window,
                max(0, remaining),
                min(window, max(0, math.ceil(reset_at - now))),
                not allowed,
            )
        )
    setattr(g, _G_USAGE, usage)
    exceeded = [found for found in usage if found.exceeded]
    if exceeded:
        wait = max(1, max(found.reset for found in exceeded))
        worst = exceeded[0]
        raise Problem(
            429,
            f"Too many requests: this {'access token' if kind == 'token' else 'address'} may make {worst.quota} "
            f"in {worst.window} s. Try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


def _endpoint_key(endpoint: Endpoint) -> str:
    """The key of an endpoint's own counts: its Flask endpoint name and method.

    :param endpoint: the endpoint.
    """
    return f"{request.endpoint}:{endpoint.method}"


def authenticate_within_limits(
    endpoint: Endpoint, app: Flask | None = None, current: Request | None = None
) -> Identity:
    """Authenticate the request to ``endpoint`` (:func:`erlen_api.security.authenticate`) and count it.

    A request refused by authentication (a bad token, no user, no CSRF token) counts against its address before
    its refusal is answered, so guessing tokens is limited too.

    :param endpoint: the endpoint called.
    :param app: the current app, when the caller has it at hand.
    :param current: the current request itself (not its proxy), when the caller has it at hand.
    :returns: the request's identity.
    :raises Problem: 429 over a limit; the refusals of authentication.
    """
    if app is None:
        app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    limiter = state_of(app).ratelimiter
    declared = getattr(endpoint.options, "ratelimit", None)
    if limiter is None or declared is False or (declared is None and not limiter.limits_by_default):
        return authenticate(endpoint, app, current)
    try:
        identity = authenticate(endpoint, app, current)
    except Problem:
        _count(app, limiter, endpoint, "address")
        raise
    _count(app, limiter, endpoint, "token" if identity.method == "token" else "address")
    return identity


def _item(usage: Usage) -> str:
    """The policy's identifier as the headers write it: a quoted string (RFC 8941).

    :param usage: where the request stands against the policy.
    """
    return f'"{usage.policy}"'


def add_headers(response: Response) -> Response:
    """Add ``RateLimit-Policy`` and ``RateLimit`` to the response of a request that was counted.

    An ``after_request`` function of the app.

    :param response: the response.
    """
    usage: list[Usage] | None = g.get(_G_USAGE)
    if usage:
        response.headers["RateLimit-Policy"] = ", ".join(
            f"{_item(found)};q={found.quota};w={found.window}" for found in usage
        )
        response.headers["RateLimit"] = ", ".join(
            f"{_item(found)};r={found.remaining};t={found.reset}" for found in usage
        )
    return response


def describe(operation: dict[str, t.Any], endpoint: Endpoint, app: Flask) -> None:
    """Document an operation's rate limits: the headers of its answers, and the 429.

    :param operation: the operation object, changed in place.
    :param endpoint: its endpoint.
    :param app: the app whose settings give the limits.
    """
    if not (limits_for(app, endpoint, "address") or limits_for(app, endpoint, "token")):
        return
    headers = {
        "RateLimit": {"$ref": "#/components/headers/RateLimit"},
        "RateLimit-Policy": {"$ref": "#/components/headers/RateLimit-Policy"},
    }
    responses: dict[str, t.Any] = operation["responses"]
    for status, answer in responses.items():
        if status != "default" and "$ref" not in answer:
            answer.setdefault("headers", {}).update(headers)
    default = responses["default"]
    responses["429"] = {
        **default,
        "description": "Too Many Requests: over a rate limit; Retry-After says when to try again.",
        "headers": {**headers, "Retry-After": {"$ref": "#/components/headers/Retry-After"}},
    }


#: The ``components/headers`` of the document that :func:`describe` refers to.
HEADERS: dict[str, dict[str, t.Any]] = {
    "RateLimit": {
        "description": "Where the client stands against each limit (draft-ietf-httpapi-ratelimit-headers): "
        'the policy, the requests remaining (r) and the seconds until they reset (t): "address-60s";r=42;t=17.',
        "schema": {"type": "string"},
    },
    "RateLimit-Policy": {
        "description": "The limits that apply (draft-ietf-httpapi-ratelimit-headers): each policy with its quota (q) "
        'and window in seconds (w): "address-60s";q=100;w=60.',
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    },
}

__all__ = [
    "STRATEGIES",
    "LimiterHealth",
    "RateLimiter",
    "Usage",
    "add_headers",
    "authenticate_within_limits",
    "client_address",
    "describe",
    "limits_for",
    "make_limiter",
    "parse_limits",
    "validate_declared",
    "validate_setting",
]
