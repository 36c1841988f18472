"""The per-app state of erlen-ops, kept in ``app.extensions["ops"]``."""

from __future__ import annotations

import threading
import typing as t
from dataclasses import dataclass, field

import erlen

if t.TYPE_CHECKING:
    from flask import Flask

    from .health import ReadinessChecker
    from .metrics import AppMetrics
    from .middleware import OpsMiddleware
    from .tracing import Tracing

#: The key of ``app.extensions`` under which :class:`OpsState` lives.
EXTENSION_KEY = "ops"


@dataclass(frozen=True)
class OpsSettings:
    """The ``OPS_*`` settings, as validated at startup."""

    health_path: str
    ready_path: str
    metrics_path: str
    ready_timeout: float
    ready_cache: float
    metrics: bool
    metrics_timeout: float
    metrics_allow: tuple[str, ...]
    metrics_token: str | None
    tracing: bool

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> OpsSettings:
        """The settings from the app's validated configuration."""
        return cls(
            health_path=config["OPS_HEALTH_PATH"],
            ready_path=config["OPS_READY_PATH"],
            metrics_path=config["OPS_METRICS_PATH"],
            ready_timeout=config["OPS_READY_TIMEOUT"],
            ready_cache=config["OPS_READY_CACHE"],
            metrics=config["OPS_METRICS"],
            metrics_timeout=config["OPS_METRICS_TIMEOUT"],
            metrics_allow=tuple(config["OPS_METRICS_ALLOW"]),
            metrics_token=config["OPS_METRICS_TOKEN"],
            tracing=config["OPS_TRACING"],
        )


@dataclass
class OpsState:
    """What erlen-ops keeps for one app.

    The metrics and tracing (``OPS_METRICS``, ``OPS_TRACING``) are set up by :meth:`start`: at once in an app
    created to serve (a worker, a test, a script), but in an app the ``erlen`` command created only when it first
    serves a request or when code first reads :attr:`metrics` or :attr:`tracing` (a command sending mail, say),
    so ``erlen --app APP --help`` and the commands that serve nothing import neither prometheus-client nor
    OpenTelemetry.

    :param app: the app.
    :param settings: its ``OPS_*`` settings.
    """

    app: Flask
    settings: OpsSettings
    #: Runs the readiness checks; set once every plugin is ready.
    checker: ReadinessChecker | None = None
    #: Whether the ``db`` plugin is enabled and metrics are on, so queries per request are counted.
    counts_queries: bool = False
    #: Whether the plugins' hook implementations are timed and traced (by the set-up).
    hooks_wrapped: bool = False
    #: The middleware answering the ops endpoints in front of the app.
    middleware: OpsMiddleware | None = None
    #: Sets up the metrics and tracing, called once by :meth:`start` (``None``: nothing to set up).
    set_up: t.Callable[[OpsState], None] | None = field(default=None, repr=False)
    _metrics: AppMetrics | None = field(default=None, init=False, repr=False)
    _tracing: Tracing | None = field(default=None, init=False, repr=False)
    _started: bool = field(default=False, init=False, repr=False)
    _starting: bool = field(default=False, init=False, repr=False)
    # Reentrant: a plugin's erlen_ops_metrics, run by the set-up, may read the state on the same thread.
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    @property
    def metrics(self) -> AppMetrics | None:
        """The app's metrics, when ``OPS_METRICS`` is on; reading it sets them up if they are not yet."""
        self.start()
        return self._metrics

    @property
    def tracing(self) -> Tracing | None:
        """The app's tracer provider and tracer, when ``OPS_TRACING`` is on; reading it sets them up if they are
        not yet."""
        self.start()
        return self._tracing

    @property
    def started(self) -> bool:
        """Whether the metrics and tracing are set up (or there are none to set up); reads nothing."""
        return self._started or self.set_up is None

    def start(self) -> None:
        """Set up the metrics and tracing now, once; other threads wait for it, a call during it returns at once.

        :raises erlen.ErlenError: the set-up found a configuration error (it runs again at the next call).
        """
        if self._started or self.set_up is None:
            return
        with self._lock:
            if self._started or self._starting:
                return
            self._starting = True
            try:
                self.set_up(self)
            finally:
                self._starting = False
            self._started = True

    def provide(self, *, metrics: AppMetrics | None = None, tracing: Tracing | None = None) -> None:
        """Keep what the set-up made (called by it, before the plugins' ``erlen_ops_metrics`` read it).

        :param metrics: the app's metrics, if made now.
        :param tracing: the app's tracing, if made now.
        """
        if metrics is not None:
            self._metrics = metrics
        if tracing is not None:
            self._tracing = tracing

    @property
    def metrics_made(self) -> AppMetrics | None:
        """The metrics made so far, without setting anything up."""
        return self._metrics

    @property
    def tracing_made(self) -> Tracing | None:
        """The tracing made so far, without setting anything up."""
        return self._tracing


def state_of(app: Flask | None = None) -> OpsState:
    """The erlen-ops state of ``app``, or of the current app.

    :raises erlen.PluginNotEnabledError: the ``ops`` plugin is not enabled on the app.
    """
    return t.cast(OpsState, erlen.extension_state(EXTENSION_KEY, app))
