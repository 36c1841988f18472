"""Prometheus metrics of one app, correct under gunicorn's several workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set in the environment before the app (and
prometheus-client) is imported, every worker writes its values to files in
that folder and ``/metrics`` answers with the sum over the workers
(prometheus-client's multiprocess mode); otherwise with this process's
values. The metrics are made per app (``registry=`` of the app's own), never
in prometheus-client's global registry.
"""

from __future__ import annotations

import glob
import logging
import os
import time
import typing as t
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from .bounded import BoundedCalls
from .health import describe_error
from .inflight import RequestsInFlight
from .names import QUERIES_KEY, multiprocess_dir

if t.TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger("erlen_ops.metrics")

#: Label combinations whose children are kept at most (a client sending made-up methods cannot grow it further).
_CHILDREN_CACHED = 10_000

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: Seconds; from a cached answer to a slow report.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HOOK_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0)
QUERY_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100)

#: A value read at scrape time: a number, or numbers by label values.
ScrapeValue = float | Mapping[tuple[str, ...], float] | None

_MetricT = t.TypeVar("_MetricT", Counter, Gauge, Histogram)


@dataclass(frozen=True)
class ScrapedGauge:
    """A gauge read when Prometheus scrapes (see :meth:`MetricsFactory.on_scrape`).

    :param name: the metric's name.
    :param documentation: its help text.
    :param labelnames: its label names.
    :param read: returns its value.
    :param plugin: the plugin that registered it, when it did so in its ``erlen_ops_metrics``.
    """

    name: str
    documentation: str
    labelnames: tuple[str, ...]
    read: Callable[[], ScrapeValue]
    plugin: str | None = None

    def family(self) -> GaugeMetricFamily | None:
        """Read the gauge: its metric family, or ``None`` to leave it out of this scrape.

        :raises TypeError: the value read is not a number, or a key not a tuple of label values.
        """
        value = self.read()
        return None if value is None else _gauge_family(self.name, self.documentation, self.labelnames, value)

    @property
    def described(self) -> str:
        """The gauge's name and plugin, for log lines."""
        return self.name if self.plugin is None else f"{self.name} of plugin {self.plugin!r}"


class MetricsFactory:
    """Makes the metrics of one app; plugins receive it in ``erlen_ops_metrics``.

    :param registry: the app's own registry.
    :param app: the app, pushed as the app context of the gauges read at scrape time.
    :param scrape_timeout: seconds a scrape waits for those gauges (``OPS_METRICS_TIMEOUT``).
    """

    def __init__(self, registry: CollectorRegistry, app: Flask, *, scrape_timeout: float) -> None:
        self.registry = registry
        self.scrapers: list[ScrapedGauge] = []
        #: The metrics made through this factory, in order (see :meth:`checkpoint`).
        self._made: list[Counter | Gauge | Histogram] = []
        #: Reads the scrape-time gauges, bounded: a hung one is left out, and not read again while it hangs.
        self.gauge_reads = BoundedCalls(app, timeout=scrape_timeout, thread_prefix="erlen-ops-gauge-")

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = (), **options: t.Any) -> Counter:
        """A :class:`prometheus_client.Counter` of the app; ``options`` as prometheus-client takes them.

        :raises ValueError: it would write the name of a gauge read at scrape time (see :meth:`on_scrape`).
        """
        return self._not_scraped(name, Counter(name, documentation, labelnames, registry=self.registry, **options))

    def gauge(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        multiprocess_mode: str = "livesum",
        **options: t.Any,
    ) -> Gauge:
        """A :class:`prometheus_client.Gauge` of the app.

        :param multiprocess_mode: how the workers' values combine: ``livesum`` (the default: the sum over
            the live workers, such as connections in use), ``liveall`` (one series per worker), ``max``...
        :raises ValueError: it would write the name of a gauge read at scrape time (see :meth:`on_scrape`).
        """
        return self._not_scraped(
            name,
            Gauge(
                name,
                documentation,
                labelnames,
                registry=self.registry,
                multiprocess_mode=t.cast(t.Any, multiprocess_mode),
                **options,
            ),
        )

    def histogram(self, name: str, documentation: str, labelnames: Sequence[str] = (), **options: t.Any) -> Histogram:
        """A :class:`prometheus_client.Histogram` of the app (``buckets=`` to choose them).

        :raises ValueError: it would write the name of a gauge read at scrape time (see :meth:`on_scrape`).
        """
        return self._not_scraped(name, Histogram(name, documentation, labelnames, registry=self.registry, **options))

    def _not_scraped(self, name: str, metric: _MetricT) -> _MetricT:
        """``metric``, just made, unless it writes the name of a gauge read at scrape time (made by an earlier
        plugin): both in one answer, Prometheus would refuse the whole scrape. Then it is taken out of the registry.

        :param name: the name it was made with.
        :param metric: a metric of the app's registry.
        :raises ValueError: naming the metric and the gauge.
        """
        written: set[str] = set()
        for family in metric.collect():
            written |= _written_names(family)
        clash = sorted(written & {gauge.name for gauge in self.scrapers})
        if clash:
            self.registry.unregister(metric)
            raise ValueError(
                f"The metric {name!r} would write {', '.join(map(repr, clash))} into /metrics, the name of a "
                "gauge read at scrape time (on_scrape): give one of them a name of its own."
            )
        self._made.append(metric)
        return metric

    def checkpoint(self) -> tuple[int, int]:
        """What this factory has made so far, to :meth:`roll_back` to: the metrics and scrape-time gauges."""
        return len(self._made), len(self.scrapers)

    def roll_back(self, checkpoint: tuple[int, int]) -> None:
        """Take out of the app's registry the metrics and scrape-time gauges made since ``checkpoint``.

        For a plugin's ``erlen_ops_metrics`` that raised halfway: its call is made again later, and the metrics it
        made before it raised would be registered twice (prometheus-client refuses a name it has already). A
        collector the plugin registered in :attr:`registry` itself is not known here, and stays.

        :param checkpoint: what :meth:`checkpoint` returned before the call.
        """
        made, scraped = checkpoint
        for metric in self._made[made:]:
            self.registry.unregister(metric)
        del self._made[made:]
        del self.scrapers[scraped:]

    def on_scrape(
        self, name: str, documentation: str, read: Callable[[], ScrapeValue], labelnames: Sequence[str] = ()
    ) -> None:
        """A gauge read when Prometheus scrapes, in the worker that answers (a queue's length in the database).

        :param read: returns the value, or values by a tuple of label values (one per ``labelnames``), or
            ``None`` to leave the gauge out of this scrape. It runs in an app context, on a thread of its own,
            in parallel with the other gauges; an exception leaves the gauge out and is logged, and so does
            a read that takes longer than ``OPS_METRICS_TIMEOUT`` (it is not read again until it ends).
        :raises ValueError: a metric made before (read at scrape time or not) writes that name into the answer,
            as its name or a sample's (``x_total`` of a counter ``x``, ``h_count`` of a histogram ``h``): both
            in one answer, Prometheus would refuse the whole scrape.
        """
        taken = {gauge.name for gauge in self.scrapers}
        for family in self.registry.collect():
            taken |= _written_names(family)
        if name in taken:
            raise ValueError(
                f"The gauge {name!r} read at scrape time is named like a metric (or a sample of one) the app has "
                "already: give it a name of its own."
            )
        self.scrapers.append(ScrapedGauge(name, documentation, tuple(labelnames), read))

    def credit_new_gauges(self, plugin: str) -> None:
        """Name ``plugin`` as the registrant of the scrape-time gauges that name none yet (for its log lines).

        :param plugin: the plugin whose ``erlen_ops_metrics`` just ran.
        """
        self.scrapers = [
            gauge if gauge.plugin is not None else replace(gauge, plugin=plugin) for gauge in self.scrapers
        ]


class AppMetrics:
    """The metrics erlen-ops keeps for one app.

    :param factory: the app's factory.
    """

    def __init__(self, factory: MetricsFactory) -> None:
        self.factory = factory
        # Per request, one histogram (under gunicorn each value written is a write to a file; its _count is the
        # requests answered, no separate counter) and the requests in flight (one double written before and
        # after, see the inflight module).
        self.in_flight = RequestsInFlight(multiprocess_dir())
        factory.registry.register(self.in_flight)
        self.latency = factory.histogram(
            "erlen_http_request_duration_seconds",
            "Time to answer HTTP requests; its _count is the requests answered.",
            ["endpoint", "method", "status"],
            buckets=LATENCY_BUCKETS,
        )
        self.queries = factory.histogram(
            "erlen_db_queries_per_request", "SQL statements run per HTTP request.", ["endpoint"], buckets=QUERY_BUCKETS
        )
        self.pool_in_use = factory.gauge(
            "erlen_db_pool_connections_in_use", "Database connections checked out of the pool."
        )
        self.pool_checkouts = factory.counter("erlen_db_pool_checkouts_total", "Connections taken from the pool.")
        self.hooks = factory.histogram(
            "erlen_hook_duration_seconds", "Time of each plugin's hook calls.", ["hook", "plugin"], buckets=HOOK_BUCKETS
        )
        self.mail_deliveries = factory.counter(
            "erlen_mail_deliveries_total", "Messages handed to the mail backend, by result.", ["result"]
        )
        self.login_failures = factory.counter(
            "erlen_auth_login_failures_total",
            "Refused log-ins by reason; reason throttled counts log-ins refused by the throttle.",
            ["reason"],
        )
        # The label children's observe methods of each (endpoint, method, status) seen, so a request skips
        # labels()' lookup.
        self._children: dict[tuple[str, str, str], tuple[t.Any, t.Any]] = {}

    def observe_request(self, endpoint: str, method: str, status: str, seconds: float, queries: int | None) -> None:
        """Count one answered request."""
        key = (endpoint, method, status)
        children = self._children.get(key)
        if children is None:
            method = method if method in _METHODS else "other"
            children = (self.latency.labels(endpoint, method, status).observe, self.queries.labels(endpoint).observe)
            if len(self._children) < _CHILDREN_CACHED:
                self._children[key] = children
        children[0](seconds)
        if queries is not None:
            children[1](queries)

    def timed_hook(self, function: Callable[..., t.Any], hook: str, plugin: str) -> Callable[..., t.Any]:
        """``function`` timing each call into ``erlen_hook_duration_seconds``."""
        histogram = self.hooks.labels(hook, plugin)

        def timed(*args: t.Any, **kwargs: t.Any) -> t.Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        return timed

    def instrument_engine(self, engine: t.Any) -> None:
        """Count queries per request and the pool's connections in use on a SQLAlchemy engine."""
        from flask import has_request_context, request
        from sqlalchemy import event

        in_use, checkouts = self.pool_in_use, self.pool_checkouts

        def counted(*_args: t.Any) -> None:
            if has_request_context():
                environ = request.environ
                environ[QUERIES_KEY] = environ.get(QUERIES_KEY, 0) + 1

        def checked_out(*_args: t.Any) -> None:
            in_use.inc()
            checkouts.inc()

        def checked_in(*_args: t.Any) -> None:
            in_use.dec()

        event.listen(engine, "before_cursor_execute", counted)
        event.listen(engine.pool, "checkout", checked_out)
        event.listen(engine.pool, "checkin", checked_in)


class _Scraped(Collector):
    """The gauges plugins read at scrape time, each bounded by ``OPS_METRICS_TIMEOUT``.

    :param factory: the app's factory, holding the gauges and their bounded reads.
    """

    def __init__(self, factory: MetricsFactory) -> None:
        self.factory = factory

    def collect(self) -> Iterator[Metric]:
        gauges = list(self.factory.scrapers)
        reads = self.factory.gauge_reads
        # Read and converted on the gauge's thread: a value that raises when converted (a plugin's mistake, a
        # mapping whose result set was closed) leaves that gauge out, not the scrape (a 500 hides every metric).
        outcomes = reads.run({gauge.name: gauge.family for gauge in gauges})
        for gauge in gauges:
            outcome = outcomes[gauge.name]
            if outcome.status == "timeout":
                # Logged when the hang starts; later scrapes leave the gauge out quietly until it ends.
                logger.warning(
                    "Metric %s did not answer within %s seconds (OPS_METRICS_TIMEOUT): left out of the scrapes "
                    "until it answers. Does the database or service it reads hang?",
                    gauge.described,
                    reads.timeout,
                )
                continue
            if outcome.status == "still_running":
                logger.debug("Metric %s is left out: its read of an earlier scrape still runs", gauge.described)
                continue
            if outcome.status == "fail":
                error = t.cast(BaseException, outcome.error)
                logger.warning("Metric %s could not be read: %s", gauge.described, describe_error(error))
                continue
            if outcome.value is not None:
                yield t.cast(GaugeMetricFamily, outcome.value)


#: The samples a metric type writes besides its name, in Prometheus' text format (prometheus-client's suffixes).
_SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("", "_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gaugehistogram": ("", "_bucket", "_gsum", "_gcount"),
    "info": ("_info",),
}


def _written_names(family: Metric) -> set[str]:
    """The names ``family`` writes into a text-format answer (its TYPE line's and its samples'), whether or not it
    has samples yet (a labelled metric before its first labels). A counter's own name is not among them: its TYPE
    line names ``x_total``."""
    return {family.name + suffix for suffix in _SAMPLE_SUFFIXES.get(family.type, ("",))} | {
        sample.name for sample in family.samples
    }


def _gauge_family(
    name: str, documentation: str, labelnames: tuple[str, ...], value: object
) -> GaugeMetricFamily | None:
    """The gauge of a value read at scrape time (see :meth:`MetricsFactory.on_scrape`); ``None`` to leave it out.

    :raises TypeError: a value is not a number, or a key not a tuple of label values (one per label name).
    """
    family = GaugeMetricFamily(name, documentation, labels=labelnames)
    if isinstance(value, Mapping):
        for labels, number in value.items():
            if not (
                isinstance(labels, tuple)
                and len(labels) == len(labelnames)
                and all(isinstance(label, str) for label in labels)
            ):
                raise TypeError(
                    f"the key {labels!r} is not a tuple of {len(labelnames)} label value(s) (str) for {labelnames!r}"
                )
            family.add_metric(list(labels), _number(number))
    elif labelnames:
        return None
    else:
        family.add_metric([], _number(value))
    return family


def _number(value: t.Any) -> float:
    if isinstance(value, str | bytes):
        raise TypeError(f"{type(value).__name__} {value!r} is not a number")  # float() would read "3"
    try:
        return float(value)  # an int, a float, a Decimal from the database...
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"{type(value).__name__} {str(value)[:40]!r} is not a number a gauge can hold") from None


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return iter(self.registry.collect())


def exposition(factory: MetricsFactory) -> bytes:
    """The metrics of the factory's app in Prometheus' text format: every worker's in multiprocess mode.

    :param factory: the app's factory.
    """
    registry = CollectorRegistry(auto_describe=False)
    folder = multiprocess_dir()
    if folder is not None:
        _SettledFilesCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(factory.registry))
    registry.register(_Scraped(factory))
    return generate_latest(registry)


#: A metrics file's first bytes: the length of its used part.
_HEADER_BYTES = 8


class _SettledFilesCollector(MultiProcessCollector):
    """prometheus-client's collector of the workers' files, leaving out a file a worker is still making.

    prometheus-client creates a worker's file empty and sizes it afterwards; its collector reading the empty
    file raises ``struct.error``, which made the scrape a 500 (a worker starting, gunicorn replacing one).
    """

    def collect(self) -> t.Iterable[Metric]:
        files = []
        for path in glob.glob(os.path.join(self._path, "*.db")):
            try:
                if os.path.getsize(path) >= _HEADER_BYTES:
                    files.append(path)
            except FileNotFoundError:  # the worker exited meanwhile
                continue
        return self.merge(files, accumulate=True)  # type: ignore[no-untyped-call,no-any-return]
