"""erlen-ops: health and readiness endpoints, Prometheus metrics and OpenTelemetry tracing for Erlen apps."""

from __future__ import annotations

from .health import CheckResult, Readiness, ReadinessChecker, collect_checks
from .metrics import MULTIPROCESS_VARIABLE, AppMetrics, MetricsFactory, exposition, multiprocess_dir
from .state import OpsSettings, OpsState, state_of

__version__ = "0.1.0"

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
