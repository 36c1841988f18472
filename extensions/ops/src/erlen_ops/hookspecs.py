"""The hooks erlen-ops adds: readiness checks and metrics of other plugins.

A plugin implements them without depending on erlen-ops: it marks its
implementations ``@erlen.hookimpl(optionalhook=True)``, so it still loads
when ``ops`` is not enabled, and needs nothing of erlen-ops to write them
(checks are plain callables; metrics are made through the object the hook
receives).
"""

# The specifications are stubs: their bodies are their docstrings.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import typing as t
from collections.abc import Callable, Mapping

import erlen

if t.TYPE_CHECKING:
    from flask import Flask

    from .metrics import MetricsFactory


@erlen.hookspec
def erlen_health_checks(app: Flask) -> Mapping[str, Callable[[], Mapping[str, float] | None]]:
    """Return the plugin's readiness checks, by name, for ``/readyz``.

    A check is a callable without arguments. ``/readyz`` runs every check of
    every enabled plugin on a thread of its own, inside an app context, at
    most ``OPS_READY_TIMEOUT`` seconds; the answer is cached for
    ``OPS_READY_CACHE`` seconds, so checks run at most about once a second
    per process, however often a load balancer asks.

    A check **raises** when the app cannot serve: its exception is logged
    (on the ``erlen_ops.health`` logger) and only its type's name is shown
    in the answer, so a message holding a database URL or a host name never
    reaches the client. It returns ``None``, or a mapping of names to
    numbers to show with its result (such as ``{"backlog": 3}``); anything
    else in the mapping is dropped.

    Keep checks cheap (one ``SELECT 1``, one ``PING``) and bounded by a
    timeout of their own where the library has one. The check's name is
    shown as ``plugin.name``.

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_health_checks(app):
            def search_index():
                index_of(app).ping()

            return {"search_index": search_index}

    :param app: the app being checked.
    """


@erlen.hookspec
def erlen_ops_metrics(app: Flask, metrics: MetricsFactory) -> None:
    """Add the plugin's own Prometheus metrics, when ``OPS_METRICS`` is on.

    Make each metric with ``metrics.counter``, ``metrics.gauge``,
    ``metrics.histogram`` (they take prometheus-client's arguments and
    return its metric objects, counted correctly across gunicorn's workers)
    and keep them in the plugin's state in ``app.extensions``. For values
    read when Prometheus scrapes (a queue's length), register a function with
    ``metrics.on_scrape``. Name metrics after the plugin
    (``erlen_search_queries_total``).

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_ops_metrics(app, metrics):
            app.extensions["search"].queries = metrics.counter(
                "erlen_search_queries_total", "Search queries run.", ["kind"]
            )

    Not called when ``OPS_METRICS`` is off: check for the metric objects
    before using them.

    :param app: the app.
    :param metrics: makes metrics for this app.
    """
