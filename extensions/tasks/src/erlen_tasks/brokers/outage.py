"""A broker that cannot be reached: one line when it is lost, one when it answers again.

Dramatiq's worker restarts a consumer that met a connection error every
few seconds, each time with a ``CRITICAL`` line of the client's error (one
per queue and per try, none naming the broker for RabbitMQ), and the relay
and the hand-off each reported their own failures. :class:`BrokerWatch`
runs every consumer's and every enqueue's call to the broker through core's
:class:`erlen.failover.Failover`: the outage is logged once, naming the
broker, its host and port (never the URL, which may hold a password), what
failed and that it keeps being tried, and once more when it answers again.
Dramatiq's lines about those errors are left out, and the worker goes on
restarting its consumers as before. Only a call the broker answered ends an
outage (see :meth:`BrokerWatch.answered`). A worker's database broker is
watched too (the jobs' database, ``DB_URL``). A worker stopping during an
outage gives up the acknowledgements and requeues the broker does not take,
saying when those jobs come back, rather than retrying them until its stop
timeout.
"""

from __future__ import annotations

import logging
import threading
import typing as t
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import dramatiq
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.errors import BrokerConnectionError, ConnectionClosed
from dramatiq.middleware import Middleware

from erlen.failover import Failover, describe_error, describe_location
from erlen.redaction import redact_text

logger = logging.getLogger("erlen_tasks")

_T = t.TypeVar("_T")

#: Each broker's name in messages, and the port of a URL without one.
BROKERS = {"redis": ("Redis", 6379), "rabbitmq": ("RabbitMQ", 5672)}

#: The port of a database URL without one, by SQLAlchemy backend (the database broker).
DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}


def broker_location(kind: str, url: str) -> str:
    """The broker for messages, such as ``"Redis at 127.0.0.1:6379"``: its host and port, never its URL's password.

    :param kind: ``TASKS_BROKER``: ``redis``, ``rabbitmq`` or ``database``.
    :param url: ``TASKS_URL`` (``DB_URL`` for the database broker).
    """
    if kind == "database":
        backend = url.split(":", 1)[0].split("+", 1)[0]
        return f"database at {describe_location(url, DATABASE_PORTS.get(backend, 0))}"
    name, port = BROKERS[kind]
    return f"{name} at {describe_location(url, port)}"


def connection_errors(kind: str) -> tuple[type[BaseException], ...]:
    """The exceptions that mean the broker ``kind`` cannot be reached (Dramatiq's, its client's, the socket's).

    :param kind: ``redis``, ``rabbitmq`` or ``database`` (whose consumers raise Dramatiq's errors).
    """
    errors: tuple[type[BaseException], ...] = (BrokerConnectionError, OSError)
    if kind == "redis":
        import redis

        errors += (redis.ConnectionError, redis.TimeoutError)
    elif kind == "database":
        import sqlalchemy as sa

        errors += (sa.exc.OperationalError,)
    else:
        import pika.exceptions  # type: ignore[import-untyped]  # no type hints shipped

        errors += (pika.exceptions.AMQPConnectionError,)
    return errors


def explain(url: str) -> Callable[[BaseException], str]:
    """An error's text for messages, with ``url`` and its password hidden should the client's text hold them.

    :param url: ``TASKS_URL``.
    """
    secrets = [secret for secret in (url, urlsplit(url).password) if secret]

    def describe(exc: BaseException) -> str:
        wrapped = getattr(exc, "message", None)  # Dramatiq's ConnectionClosed(e) holds the client's error
        if isinstance(exc, BrokerConnectionError) and isinstance(wrapped, BaseException):
            exc = wrapped
        elif isinstance(exc, BrokerConnectionError) and exc.__cause__ is not None:
            exc = exc.__cause__  # the database broker's: raised from SQLAlchemy's error
        exc = getattr(exc, "orig", None) or exc  # SQLAlchemy's error: the driver's, without its long advice
        text = describe_error(exc).strip().splitlines()[0]
        if not str(exc) and repr(exc) != f"{type(exc).__name__}()":
            text = repr(exc)  # pika's errors say what failed in their repr alone (the socket's error)
        return redact_text(text, secrets)

    return describe


class BrokerUnreachable(ConnectionClosed):
    """Dramatiq's connection error for a broker that cannot be reached, the outage logged already.

    Dramatiq restarts the consumer that raised it, as for any connection error, and retries an
    acknowledgement that failed with it; its own lines about it are left out (see :class:`BrokerWatch`).
    """


#: The jobs a line about acknowledgements or requeues given up names at most (it counts the others).
ABANDONED_LISTED = 10

#: How Dramatiq's line about an acknowledgement it retries begins: it says the job may run twice.
_ACK_RETRIED = "Failed to post_process_message("


class AcknowledgementAbandoned(Exception):
    """An acknowledgement (or rejection) given up by a worker that stops while the broker cannot be reached.

    Not a connection error, so that Dramatiq stops retrying it; its line about it is left out (the watch
    logged what happens to the job).
    """


class _QuietConnectionErrors(logging.Filter):
    """Leaves out the lines of Dramatiq's consumer threads about a :class:`BrokerUnreachable`, logged once already.

    The connection error (``CRITICAL``), the consumer's restart (``INFO``) that follows the error, and the
    acknowledgement retried (``WARNING``) but for the first of each outage: it tells operators that a job
    whose run ended is not acknowledged yet, and runs again should the worker stop before it is.

    :param failover: the broker's failover, which tells one outage from the next.
    """

    def __init__(self, failover: Failover) -> None:
        super().__init__()
        self._failover = failover
        #: The threads whose connection error was left out: their next restart line is too.
        self._restarting: set[int | None] = set()
        #: When the outage whose acknowledgement line was kept began.
        self._ack_line_kept_for: object = None
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if record.exc_info and isinstance(record.exc_info[1], AcknowledgementAbandoned):
            return False  # Dramatiq's "you've found a bug" line: the watch said what happens to the job
        if any(isinstance(arg, BrokerUnreachable) for arg in args):
            if str(record.msg).startswith(_ACK_RETRIED):
                outage = self._failover.outage()
                with self._lock:
                    if outage is None or outage[0] == self._ack_line_kept_for:
                        return False
                    self._ack_line_kept_for = outage[0]
                return True
            with self._lock:
                self._restarting.add(record.thread)
            return False
        if str(record.msg).startswith("Restarting consumer"):
            with self._lock:
                if record.thread in self._restarting:
                    self._restarting.discard(record.thread)
                    return False
        return True


class BrokerWatch(Middleware):
    """Runs a broker's calls through a :class:`~erlen.failover.Failover`: its outages are logged once each.

    Dramatiq middleware too: it leaves Dramatiq's own lines about those outages out of the logs of the
    broker's consumer threads.

    :param kind: ``redis``, ``rabbitmq`` or ``database``.
    :param url: ``TASKS_URL``; ``DB_URL`` for the database broker (watched in workers only).
    :param keeps_trying: whether this process tries the broker on its own until it answers (a worker, the
        relay command), or only when it next hands a job over (a process that enqueues jobs, such as the web
        app's): the outage's message says which.
    :param retry_interval: seconds between two tries while the broker cannot be reached: Dramatiq's delay
        before it restarts a consumer, by default.
    """

    def __init__(self, kind: str, url: str, *, keeps_trying: bool = True, retry_interval: float | None = None) -> None:
        if retry_interval is None:
            from dramatiq import worker

            retry_interval = float(worker.CONSUMER_RESTART_DELAY_SECS)
        self.location = broker_location(kind, url)
        setting = "DB_URL" if kind == "database" else "TASKS_URL"
        if kind == "database":
            while_down = "no job is claimed, jobs that end wait to be acknowledged, and this worker keeps trying"
            retried = f"tried every {retry_interval:g} s"
        elif keeps_trying:
            while_down = "committed jobs wait in the outbox table and this process keeps trying to connect"
            retried = f"tried every {retry_interval:g} s"
        else:
            from ..handoff import PAUSE_SECONDS

            # Nothing here tries on its own: the hand-off of a job committed later does (see erlen_tasks.handoff).
            while_down = "committed jobs wait in the outbox table (a worker's relay hands them over)"
            retried = (
                "this process tries it again only when it hands over a job committed "
                f"{PAUSE_SECONDS:g} s or more after a failed hand-off"
            )
        self.failover = Failover(
            service=f"The jobs' {self.location} ({setting})",
            while_down=while_down,
            when_back="jobs are handed to it and taken from it again",
            errors=connection_errors(kind),
            logger=logger,
            retry_interval=retry_interval,
            explain=explain(url),
            retried=retried,
        )
        self._quiet = _QuietConnectionErrors(self.failover)
        #: Whether the worker is stopping: acknowledgements and requeues the broker does not take are given up.
        self.stopping = False
        #: When the jobs a worker stopping during an outage could not settle are delivered again, for messages.
        self.comes_back = {
            "redis": "Redis gives them to a worker again once it answers and this worker's heartbeat is older than "
            "TASKS_REDIS_HEARTBEAT_SECONDS (a running worker puts them back within TASKS_REDIS_RECOVERY_SECONDS "
            "more)",
            "rabbitmq": "RabbitMQ delivers them again once it has noticed this worker's connection is gone",
            "database": "a worker runs them again once the database answers and their lease "
            "(TASKS_LEASE_SECONDS) has run out",
        }[kind]
        #: Per thread: how many requests of the thread the broker has answered (see :meth:`answered`).
        self._answers = threading.local()

    def answered(self) -> None:
        """Record that the broker answered a request of the calling thread: its call reached the broker.

        The broker's client reports each answer; a call during an outage ends it only if it got one (see
        :meth:`call`).
        """
        self._answers.count = self._answer_count() + 1

    def _answer_count(self) -> int:
        return t.cast(int, getattr(self._answers, "count", 0))

    def call(self, operation: Callable[[], _T]) -> _T:
        """``operation()`` on the broker.

        During an outage, only an operation that got an answer from the broker (see :meth:`answered`) ends
        it: one that returns without a request (a Redis fetch served from the messages prefetched, a RabbitMQ
        acknowledgement of a delivery its connection no longer knows) says nothing of the broker.

        :raises BrokerUnreachable: the broker cannot be reached, now or since an earlier call, whose retry
            time has not come (one caller at a time tries it again).
        """
        if self.failover.outage() is None:
            # Begun while the broker answered, its success says nothing of an outage that began meanwhile (a
            # fetch that waits for messages returns after the others met the outage): only its failure counts.
            try:
                return operation()
            except self.failover.errors as exc:
                self.failed(exc)
        before = self._answer_count()
        return self.failover.run(operation, self._unreachable, reached=lambda: self._answer_count() != before)

    def failed(self, exc: BaseException) -> t.NoReturn:
        """Report ``exc``, met outside :meth:`call`: logged if it starts an outage, then raised as unreachable.

        :param exc: one of the errors that mean the broker cannot be reached.
        :raises BrokerUnreachable: always.
        """

        def again() -> t.NoReturn:
            raise exc

        self.failover.run(again, self._unreachable)
        raise AssertionError("unreachable")  # pragma: no cover - the stand-in raised

    def _unreachable(self) -> t.NoReturn:
        outage = self.failover.outage()
        reason = f" ({outage[1]})" if outage is not None else ""
        raise BrokerUnreachable(  # type: ignore[no-untyped-call]
            f"{self.failover.service} cannot be reached{reason}; tried again every {self.failover.retry_interval:g} s"
        )

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: t.Any) -> None:
        # From now on, an acknowledgement the broker does not take is given up rather than retried (see
        # WatchedConsumer): Dramatiq would retry it every few seconds until the broker is back, the worker
        # waiting for it up to its stop timeout.
        self.stopping = True

    def abandoned(self, what: str, messages: Iterable[MessageProxy]) -> None:
        """Log that the worker stops without ``what`` for ``messages``, the broker unreachable, and when they
        come back.

        :param what: the operation given up, e.g. ``"acknowledging"``.
        :param messages: the jobs' messages.
        """
        listed = list(messages)
        # A bounded line: a worker holds up to a thousand delayed jobs per thread (Dramatiq's delay prefetch).
        jobs = ", ".join(f"{m.actor_name} ({m.message_id})" for m in listed[:ABANDONED_LISTED])
        if len(listed) > ABANDONED_LISTED:
            jobs += f" and {len(listed) - ABANDONED_LISTED} more"
        logger.warning(
            "%s cannot be reached as this worker stops: it gave up %s %s; %s.",
            self.failover.service,
            what,
            jobs,
            self.comes_back,
        )

    def after_consumer_thread_boot(self, broker: dramatiq.Broker, thread: t.Any) -> None:
        thread.logger.addFilter(self._quiet)

    def before_consumer_thread_shutdown(self, broker: dramatiq.Broker, thread: t.Any) -> None:
        thread.logger.removeFilter(self._quiet)


class WatchedConsumer(Consumer):
    """A consumer whose calls to the broker go through its :class:`BrokerWatch`.

    :param watch: the broker's watch.
    :param consumer: the broker's own consumer.
    """

    def __init__(self, watch: BrokerWatch, consumer: Consumer) -> None:
        self.watch = watch
        self.consumer = consumer

    def __next__(self) -> MessageProxy | None:
        return self.watch.call(self.consumer.__next__)

    def ack(self, message: MessageProxy) -> None:
        self._settle("acknowledging", [message], lambda: self.consumer.ack(message))

    def nack(self, message: MessageProxy) -> None:
        self._settle("rejecting", [message], lambda: self.consumer.nack(message))

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        messages = list(messages)
        if messages:  # requeuing nothing (a worker stopping) asks nothing of the broker: no sign it answers
            self._settle("putting back on their queue", messages, lambda: self.consumer.requeue(messages))

    def _settle(self, what: str, messages: list[MessageProxy], operation: Callable[[], None]) -> None:
        """``operation()`` through the watch; given up, with a line, when the worker is stopping and the broker
        cannot be reached (see :meth:`BrokerWatch.before_worker_shutdown`).

        :raises AcknowledgementAbandoned: an acknowledgement (or rejection) was given up: Dramatiq stops retrying.
        """
        try:
            self.watch.call(operation)
        except BrokerUnreachable:
            if not self.watch.stopping:
                raise
            self.watch.abandoned(what, messages)
            if what != "putting back on their queue":  # Dramatiq retries these until they succeed or raise so
                raise AcknowledgementAbandoned(what) from None

    def close(self) -> None:
        self.consumer.close()


class WatchedBroker(dramatiq.Broker):
    """A Dramatiq broker whose consumers and enqueues go through :attr:`watch`, when set (see :class:`BrokerWatch`).

    Put before Dramatiq's broker class among the bases.
    """

    #: The broker's watch (also among its middleware); ``None``: calls go to the broker as they are.
    watch: BrokerWatch | None = None

    def answered(self) -> None:
        """Tell the watch, if any, that the broker answered a request of the calling thread (see
        :meth:`BrokerWatch.answered`); the broker's client calls it."""
        if self.watch is not None:
            self.watch.answered()

    def watched(self, operation: Callable[[], _T]) -> _T:
        """``operation()`` on the broker, through the watch when set (see :meth:`BrokerWatch.call`).

        :param operation: a call to the broker.
        """
        if self.watch is None:
            return operation()
        return self.watch.call(operation)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        watch = self.watch
        if watch is None:
            return super().consume(queue_name, prefetch, timeout)
        try:
            consumer = super().consume(queue_name, prefetch, timeout)
        except watch.failover.errors as exc:
            watch.failed(exc)
        # A consumer made is not a broker that answers (Redis's connects on its first fetch): its fetches say.
        return WatchedConsumer(watch, consumer)

    def enqueue(self, message: dramatiq.Message[t.Any], *, delay: int | None = None) -> dramatiq.Message[t.Any]:
        send = super().enqueue
        return self.watched(lambda: send(message, delay=delay))


__all__ = [
    "AcknowledgementAbandoned",
    "BrokerUnreachable",
    "BrokerWatch",
    "WatchedBroker",
    "WatchedConsumer",
    "broker_location",
    "connection_errors",
]
