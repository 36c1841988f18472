"""The per-app state of erlen-ops, kept in ``app.extensions["ops"]``."""

from __future__ import annotations

import logging
import threading
import typing as t
from dataclasses import dataclass, field

import erlen

if t.TYPE_CHECKING:
    from flask import Flask

    from .health import ReadinessChecker
    from .metrics import AppMetrics
    from .middleware import OpsMiddleware
    from .tracing import RequestHooks, Tracing

#: The key of ``app.extensions`` under which :class:`OpsState` lives.
EXTENSION_KEY = "ops"

logger = logging.getLogger("erlen_ops")


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
    #: Whether the app's engine is traced (by the set-up, once: twice, each statement would have two spans).
    engine_traced: bool = False
    #: Whether the app's engine is counted (by the set-up, once: twice, each query and checkout counts twice).
    engine_counted: bool = False
    #: The plugins whose ``erlen_ops_metrics`` has run (by the set-up, once each).
    plugins_measured: set[str] = field(default_factory=set)
    #: The middleware answering the ops endpoints in front of the app.
    middleware: OpsMiddleware | None = None
    #: The tracing's request hooks, registered when the app is created (with ``OPS_TRACING`` on).
    request_hooks: RequestHooks | None = None
    #: Sets up the metrics and tracing, called by :meth:`start` until it succeeds (``None``: nothing to set up).
    set_up: t.Callable[[OpsState], None] | None = field(default=None, repr=False)
    _metrics: AppMetrics | None = field(default=None, init=False, repr=False)
    _tracing: Tracing | None = field(default=None, init=False, repr=False)
    _started: bool = field(default=False, init=False, repr=False)
    #: The error of the latest set-up that failed (logged once while it repeats), or ``None``.
    _failure: str | None = field(default=None, init=False, repr=False)
    #: The set-ups that failed in a row (:meth:`start_or_log`).
    _failures: int = field(default=0, init=False, repr=False)
    _starting: bool = field(default=False, init=False, repr=False)
    # Reentrant: a plugin's erlen_ops_metrics, run by the set-up, may read the state on the same thread.
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    @property
    def metrics(self) -> AppMetrics | None:
        """The app's metrics, when ``OPS_METRICS`` is on; reading it sets them up if they are not yet (a failure
        is logged, see :meth:`start_or_log`: ``None`` if they could not be made)."""
        self.start_or_log()
        return self._metrics

    @property
    def tracing(self) -> Tracing | None:
        """The app's tracer provider and tracer, when ``OPS_TRACING`` is on; reading it sets them up if they are
        not yet (a failure is logged, see :meth:`start_or_log`: ``None`` if it could not be made)."""
        self.start_or_log()
        return self._tracing

    @property
    def started(self) -> bool:
        """Whether the metrics and tracing are set up (or there are none to set up); reads nothing."""
        return self._started or self.set_up is None

    def start(self) -> None:
        """Set up the metrics and tracing now, once; other threads wait for it, a call during it returns at once.

        The set-up goes step by step, each done once (see ``erlen_ops.plugin``): one that fails leaves the steps
        before it done, and the next call goes on from it, doing none twice.

        :raises erlen.ErlenError: a step failed, naming the setting or the plugin involved (the set-up goes on from
            that step at the next call).
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

    def start_or_log(self) -> bool:
        """:meth:`start`, for a request or a hook of an app already serving: a failure is logged, not raised.

        The first failure is logged as an error naming the setting or plugin involved, and again only when the
        error changes (the repeats at ``DEBUG``); the request is answered all the same, and the set-up goes on at
        the next call, one thread at a time: while one retries, the others' calls return at once, without it.
        Its success after failures is logged once too.

        :returns: whether the metrics and tracing are set up.
        """
        if self.started:
            return True
        # After a failure, one thread at a time retries and the others go on without waiting for it: a step that
        # fails by hanging (a plugin's hook waiting for its queue's timeout) would otherwise hold every request,
        # each then retrying in turn. The first set-up is waited for, so that every request is counted.
        retrying = self._failures > 0
        if retrying and not self._lock.acquire(blocking=False):
            return False
        try:
            self.start()
        except Exception as exc:  # an ErlenError naming the setting, or a plugin's own error
            self._failed(exc)
            return False
        finally:
            if retrying:
                self._lock.release()
        with self._lock:  # one thread logs the success
            if self._failure is None or not self.started:
                return self.started
            failures, self._failure, self._failures = self._failures, None, 0
        logger.warning("erlen-ops' metrics and tracing are set up, after %d failed set-up(s).", failures)
        return True

    def _failed(self, exc: Exception) -> None:
        """Log a failed set-up (see :meth:`start_or_log`)."""
        # A plugin's error (erlen.PluginHookError) holds the original traceback after its message: in the record's
        # traceback instead (exc_info), the message one line.
        text = (str(exc) or type(exc).__name__).split("\n\n", 1)[0].strip()
        with self._lock:
            self._failures += 1
            repeated, self._failure = text == self._failure, text
        (logger.debug if repeated else logger.error)(
            "erlen-ops could not set up its metrics and tracing: %s Requests are answered meanwhile, without what "
            "is not set up yet; the set-up goes on from there at the next request.",
            text if text.endswith((".", "!")) else text + ".",
            exc_info=None if repeated else exc,
        )

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
