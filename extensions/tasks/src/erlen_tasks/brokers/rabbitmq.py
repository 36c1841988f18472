"""Dramatiq's RabbitMQ broker, its outages logged once each (see :mod:`erlen_tasks.brokers.outage`)."""

from __future__ import annotations

import typing as t

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer

from .outage import WatchedBroker

if t.TYPE_CHECKING:
    from dramatiq import MessageProxy


class WatchedRabbitmqBroker(WatchedBroker, RabbitmqBroker):
    """Dramatiq's :class:`~dramatiq.brokers.rabbitmq.RabbitmqBroker`, its calls through its ``watch`` when set.

    The calls that get an answer from RabbitMQ tell the watch so (see
    :meth:`~erlen_tasks.brokers.outage.BrokerWatch.answered`): an enqueue, which waits for the publisher
    confirmation (the factory turns confirmations on), and a consumer's fetch. An acknowledgement is only
    queued on the consumer's connection, a requeue asks nothing of RabbitMQ (it redelivers the messages of a
    closed connection on its own): neither says the broker answers.
    """

    @property
    def consumer_class(self) -> type[_AnsweringRabbitmqConsumer]:
        return _AnsweringRabbitmqConsumer

    def enqueue(self, message: dramatiq.Message[t.Any], *, delay: int | None = None) -> dramatiq.Message[t.Any]:
        def confirmed() -> dramatiq.Message[t.Any]:
            sent = RabbitmqBroker.enqueue(self, message, delay=delay)
            if self.confirm_delivery:  # only then has RabbitMQ answered once the call returns
                self.answered()
            return sent

        return self.watched(confirmed)


class _AnsweringRabbitmqConsumer(_RabbitmqConsumer):
    """Dramatiq's RabbitMQ consumer, telling its broker's watch when a fetch went through its connection."""

    broker: WatchedRabbitmqBroker

    def __next__(self) -> MessageProxy | None:
        # A message, or none within the timeout on a connection that met no error: either way its connection to
        # RabbitMQ, made during the outage or since, carried the fetch.
        proxy: MessageProxy | None = super().__next__()  # type: ignore[no-untyped-call]
        self.broker.answered()
        return proxy


__all__ = ["WatchedRabbitmqBroker"]
