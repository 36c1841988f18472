"""erlen-ops: health and readiness endpoints, Prometheus metrics and OpenTelemetry tracing for Erlen apps."""

from __future__ import annotations

import typing as t

from .health import CheckResult, Readiness, ReadinessChecker, collect_checks
from .names import MULTIPROCESS_VARIABLE, multiprocess_dir
from .state import OpsSettings, OpsState, state_of

if t.TYPE_CHECKING:
    from .metrics import AppMetrics, MetricsFactory, exposition

__version__ = "0.1.0"

#: Re-exported on first use: they import prometheus-client, which an app with metrics off never loads.
_FROM_METRICS = ("AppMetrics", "MetricsFactory", "exposition")


def __getattr__(name: str) -> t.Any:
    if name in _FROM_METRICS:
        from . import metrics

        return getattr(metrics, name)
    raise AttributeError(f"module 'erlen_ops' has no attribute {name!r}")


__all__ = [
    "MULTIPROCESS_VARIABLE",
    "AppMetrics",
    "CheckResult",
    "MetricsFactory",
    "OpsSettings",
    "OpsState",
    "Readiness",
    "ReadinessChecker",
    "collect_checks",
    "exposition",
    "multiprocess_dir",
    "state_of",
]
