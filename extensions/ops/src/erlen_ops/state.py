"""The per-app state of erlen-ops, kept in ``app.extensions["ops"]``."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

import erlen

if t.TYPE_CHECKING:
    from flask import Flask

    from .health import ReadinessChecker
    from .metrics import AppMetrics
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

    :param app: the app.
    :param settings: its ``OPS_*`` settings.
    """

    app: Flask
    settings: OpsSettings
    #: Runs the readiness checks; set once every plugin is ready.
    checker: ReadinessChecker | None = None
    #: The app's metrics, when ``OPS_METRICS`` is on.
    metrics: AppMetrics | None = None
    #: The app's tracer provider and tracer, when ``OPS_TRACING`` is on.
    tracing: Tracing | None = None
    #: Whether the ``db`` plugin is enabled, so queries per request are counted.
    counts_queries: bool = False


def state_of(app: Flask | None = None) -> OpsState:
    """The erlen-ops state of ``app``, or of the current app.

    :raises erlen.PluginNotEnabledError: the ``ops`` plugin is not enabled on the app.
    """
    return t.cast(OpsState, erlen.extension_state(EXTENSION_KEY, app))
