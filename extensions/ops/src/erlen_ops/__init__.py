"""erlen-ops: health and readiness endpoints, Prometheus metrics and OpenTelemetry tracing for Erlen apps."""

from __future__ import annotations

import typing as t

import erlen

from .health import CheckResult, Readiness, ReadinessChecker, collect_checks
from .names import MULTIPROCESS_VARIABLE, multiprocess_dir
from .state import OpsSettings, OpsState, state_of

if t.TYPE_CHECKING:
    from .metrics import AppMetrics, MetricsFactory, exposition

__version__ = "0.1.0"

# Re-exported on first use: they import prometheus-client, which an app with metrics off never loads.
__getattr__ = erlen.lazy_exports(
    __name__, dict.fromkeys(("AppMetrics", "MetricsFactory", "exposition"), "erlen_ops.metrics")
)


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
