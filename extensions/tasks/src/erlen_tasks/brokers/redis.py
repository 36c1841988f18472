"""Dramatiq's Redis broker, made to recover the messages of a fetch whose answer was lost.

Dramatiq's Redis broker fetches with a script that moves message ids from a
queue into the worker's set of unacknowledged messages
(``dramatiq:__acks__.<worker>.<queue>``) and answers with the messages. When
the connection breaks after Redis has run the script but before its answer
arrives (Redis shutting down on ``SIGTERM``, a network cut), the worker never
sees those messages, yet they sit in the set of a worker that is alive: the
Redis client sends the fetch again on a new connection, or Dramatiq starts a
new consumer, and either goes on with the next messages. Dramatiq gives a
worker's set back to its queues only once the worker's heartbeat has stopped
(Dramatiq issue #527), so while that worker runs, those jobs wait forever:
their rows stay ``relayed`` and, for the mail outbox, the mail is never sent.
The same befalls the delayed messages (retries, jobs with an ETA) a consumer
held in memory when Dramatiq dropped them after a connection error.

:class:`RecoveringRedisBroker` remembers, per queue, the messages its
consumers have handed to the worker and that were not acknowledged, rejected
or requeued since. Its consumers check their worker's set before they fetch:
as they start (the worker's first, and each one Dramatiq makes anew after a
connection error, on the same worker id), then every
``recovery_interval`` seconds. Every message of the set that the worker does not hold goes back on
its queue: the ones whose fetch answer was lost, and the delayed ones a
restarted consumer no longer holds. Messages being run stay where they are;
their acknowledgement comes through the consumer of the moment.

The same check runs Dramatiq's maintenance for the queue, which puts back
the sets of dead workers (no heartbeat for ``heartbeat_timeout``): the jobs
a worker stopped while Redis was away could not put back come back within
``recovery_interval`` of that, rather than with Dramatiq's one command in a
thousand (``maintenance_chance``).
"""

from __future__ import annotations

import threading
import time
import typing as t
from collections.abc import Callable

import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import ConnectionClosed

from .outage import WatchedBroker

if t.TYPE_CHECKING:
    from dramatiq import MessageProxy


class _AnsweringRedis(redis.Redis):
    """A Redis client that reports each command Redis answered (its broker's watch learns which calls reached it).

    :param answered: called after each command Redis answered, in the calling thread.
    :param kwargs: :class:`redis.Redis`'s.
    """

    def __init__(self, *, answered: Callable[[], None], **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._report_answer = answered

    def execute_command(self, *args: t.Any, **options: t.Any) -> t.Any:
        # Every command goes through here, the scripts' EVALSHA included (Dramatiq's fetch, ack, enqueue).
        result = super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        self._report_answer()
        return result


class _Held:
    """The messages a broker's consumers of one queue have handed out and not yet settled."""

    def __init__(self) -> None:
        #: Redis message id -> whether it was handed out with an ETA (so into the consumer's delay queue).
        self.messages: dict[str, bool] = {}


class RecoveringRedisBroker(WatchedBroker, RedisBroker):
    """Dramatiq's :class:`~dramatiq.brokers.redis.RedisBroker`, whose consumers recover lost fetches.

    It takes the same arguments, and one more; see the module for what it adds. Its calls go through its
    ``watch`` when set (see :mod:`erlen_tasks.brokers.outage`).

    :param recovery_interval: seconds between two checks of the worker's set by a consumer that runs on
        (its first check is at its start): how long a job whose fetch answer was lost waits at most.
    """

    def __init__(self, *args: t.Any, recovery_interval: float = 10.0, **kwargs: t.Any) -> None:
        url = kwargs.get("url")
        if url and kwargs.get("client") is None:
            # Dramatiq's own client, from the same URL, that also tells the watch which calls reached Redis.
            kwargs["client"] = _AnsweringRedis(
                connection_pool=redis.ConnectionPool.from_url(url), answered=self.answered
            )
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.recovery_interval = recovery_interval
        #: Per thread: whether the next command runs Dramatiq's maintenance for sure (see :meth:`recover`).
        self._maintenance_now = threading.local()
        self._held: dict[str, _Held] = {}
        self._held_lock = threading.Lock()

    @property
    def consumer_class(self) -> type[_RecoveringConsumer]:
        return _RecoveringConsumer

    def acks_key(self, queue_name: str) -> str:
        """The Redis set of this worker's fetched and unacknowledged messages of ``queue_name``.

        :param queue_name: the queue (its ``.DQ`` delay queue is a queue of its own).
        """
        return f"{self.namespace}:__acks__.{self.broker_id}.{queue_name}"

    def handed_out(self, queue_name: str, redis_message_id: str, *, delayed: bool) -> None:
        """Record that a consumer of ``queue_name`` handed a message to the worker.

        :param queue_name: the consumer's queue.
        :param redis_message_id: the message's ``redis_message_id`` option.
        :param delayed: whether it has an ETA, so that it waits in the consumer thread's delay queue.
        """
        with self._held_lock:
            self._held.setdefault(queue_name, _Held()).messages[redis_message_id] = delayed

    def settled(self, queue_name: str, *redis_message_ids: str) -> None:
        """Record that messages were acknowledged, rejected or requeued: the worker holds them no more.

        :param queue_name: the consumer's queue.
        :param redis_message_ids: the messages' ``redis_message_id`` options.
        """
        with self._held_lock:
            held = self._held.get(queue_name)
            if held is not None:
                for redis_message_id in redis_message_ids:
                    held.messages.pop(redis_message_id, None)

    def recover(self, queue_name: str, *, starting: bool) -> list[str]:
        """Put back on ``queue_name`` the messages of this worker's set for it that the worker does not hold.

        Called by the queue's consumer before a fetch, with nothing fetched and
        not yet handed out: Dramatiq runs one consumer per queue and worker, so
        every message of the set is then held by the worker or lost. A consumer
        starting anew has lost its predecessor's delay queue (dropped after a
        connection error, or requeued): of the messages handed out before, only
        those without an ETA (in the worker's work queue or being run) are
        still held. Redis's ``requeue`` script takes a message out of the set
        only if it is still there, so a message acknowledged meanwhile stays
        done.

        :param queue_name: the consumer's queue.
        :param starting: whether the consumer is starting (so holds no delayed message yet).
        :returns: the ``redis_message_id`` of each message put back.
        :raises redis.ConnectionError: Redis cannot be reached (the consumer tries again as it restarts).
        """
        if starting:
            with self._held_lock:
                held = self._held.get(queue_name)
                if held is not None:
                    held.messages = {key: delayed for key, delayed in held.messages.items() if not delayed}
        members = t.cast("set[bytes]", self.client.smembers(self.acks_key(queue_name)))
        with self._held_lock:
            held = self._held.get(queue_name)
            kept = set(held.messages) if held is not None else set()
        lost = sorted(key for key in (member.decode() for member in members) if key not in kept)
        # Dramatiq's maintenance, which gives the sets of dead workers (no heartbeat for heartbeat_timeout) back
        # to their queues, runs with one command in a thousand (maintenance_chance): an idle worker fetches about
        # once a second per queue, so the jobs of a worker stopped while Redis was away (which it could not put
        # back) waited a quarter of an hour on average. Run with this requeue, it is due every recovery_interval.
        self._maintenance_now.on = True
        try:
            if lost:
                self.logger.warning(
                    "Putting %d message(s) back on queue %r: fetched by this worker, but never handed to it "
                    "(the connection to Redis broke during the fetch, or a consumer restarted).",
                    len(lost),
                    queue_name,
                )
            self.do_requeue(queue_name, *lost)  # with no message, the maintenance alone
        finally:
            self._maintenance_now.on = False
        return lost

    def _should_do_maintenance(self, command: str) -> int:
        if getattr(self._maintenance_now, "on", False):
            return 1
        return super()._should_do_maintenance(command)


class _RecoveringConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, telling its broker what it hands out and settles, and recovering lost fetches."""

    broker: RecoveringRedisBroker

    def __init__(self, broker: RecoveringRedisBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        #: ``time.monotonic()`` of the next check of the worker's set; ``None`` before the first.
        self._next_recovery: float | None = None

    def __next__(self) -> MessageProxy | None:
        # Only with nothing fetched and waiting here: what this consumer fetched is not lost.
        if not self.message_cache and (self._next_recovery is None or time.monotonic() >= self._next_recovery):
            try:
                self.broker.recover(self.queue_name, starting=self._next_recovery is None)
            except redis.ConnectionError as exc:
                raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
            self._next_recovery = time.monotonic() + self.broker.recovery_interval
        proxy: MessageProxy | None = super().__next__()  # type: ignore[no-untyped-call]
        if proxy is not None:
            self.broker.handed_out(
                self.queue_name, proxy.options["redis_message_id"], delayed=proxy.options.get("eta") is not None
            )
        return proxy

    # Settled only once Redis has taken the answer: Dramatiq retries a failed acknowledgement until it
    # succeeds, and the message must stay held (not recovered, so not run twice) meanwhile.
    def ack(self, message: MessageProxy) -> None:
        super().ack(message)  # type: ignore[no-untyped-call]
        self.broker.settled(self.queue_name, message.options["redis_message_id"])

    def nack(self, message: MessageProxy) -> None:
        super().nack(message)  # type: ignore[no-untyped-call]
        self.broker.settled(self.queue_name, message.options["redis_message_id"])

    def requeue(self, messages: t.Iterable[MessageProxy]) -> None:
        messages = list(messages)
        super().requeue(messages)  # type: ignore[no-untyped-call]
        self.broker.settled(self.queue_name, *(message.options["redis_message_id"] for message in messages))


__all__ = ["RecoveringRedisBroker"]
