"""The per-app state of the ``api`` plugin, kept in ``app.extensions["api"]``."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from flask import Flask

import erlen

from .versioning import Lifecycle

if t.TYPE_CHECKING:
    from .ratelimits import RateLimiter

#: The key of ``app.extensions`` holding the :class:`ApiState`.
EXTENSION_KEY = "api"


@dataclass
class ApiState:
    """What the ``api`` plugin keeps per app.

    :param prefixes: the URL prefixes of the app's APIs (and of the documentation): under them every error is
        a problem document, even when no route matches.
    :param spec: the OpenAPI document, built on first use.
    :param lifecycles: the deprecation of the API versions, by prefix, for the responses no view answers.
    :param ratelimiter: counts requests against the rate limits (``API_RATELIMIT_*``).
    :param resource_names: the name of the resource serving each mapped class (the first one declared).
    """

    prefixes: list[str] = field(default_factory=list)
    spec: dict[str, t.Any] | None = None
    lifecycles: dict[str, Lifecycle] = field(default_factory=dict)
    ratelimiter: RateLimiter | None = None
    #: The name of the resource serving each mapped class, for the problems of its stored rows.
    resource_names: dict[type, str] = field(default_factory=dict)
    #: What :meth:`covers` tests, made from ``prefixes`` when they change: the prefixes themselves, and the
    #: starts of the paths under them (``/api/``), in one ``str.startswith`` rather than a loop per request.
    _covered: tuple[list[str], frozenset[str], tuple[str, ...]] = field(
        default=([], frozenset(), ()), repr=False, compare=False
    )

    def add_prefix(self, prefix: str, lifecycle: Lifecycle | None = None) -> None:
        """Answer errors under ``prefix`` with problem documents.

        :param prefix: a URL prefix such as ``/api/v1``.
        :param lifecycle: the deprecation of the API version served there.
        """
        prefix = "/" + prefix.strip("/")
        if prefix not in self.prefixes:
            self.prefixes.append(prefix)
            self.prefixes.sort(key=len, reverse=True)
        if lifecycle is not None and lifecycle.headers():
            self.lifecycles[prefix] = lifecycle

    def lifecycle_for(self, path: str) -> Lifecycle | None:
        """The deprecation of the API version whose prefix is the longest one ``path`` is under.

        :param path: a request path.
        """
        for prefix in self.prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return self.lifecycles.get(prefix)
        return None

    def covers(self, path: str) -> bool:
        """Whether ``path`` is under one of the prefixes.

        :param path: a request path.
        """
        source, exact, starts = self._covered
        if source != self.prefixes:
            # Made again when the list changed (add_prefix, or a change made to it directly), from a copy of it.
            source = list(self.prefixes)
            exact = frozenset(source)
            starts = tuple("" if prefix == "/" else prefix + "/" for prefix in source)  # "/" covers every path
            self._covered = (source, exact, starts)
        return path in exact or path.startswith(starts)


def state_of(app: Flask | None = None) -> ApiState:
    """The ``api`` plugin's state on ``app`` (the current app by default).

    :param app: the app.
    :raises erlen.PluginNotEnabledError: the app does not enable ``api``.
    """
    return t.cast(ApiState, erlen.extension_state(EXTENSION_KEY, app, plugin="api"))
