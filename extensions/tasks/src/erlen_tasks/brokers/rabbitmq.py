"""Dramatiq's RabbitMQ broker, its outages logged once each (see :mod:`erlen_tasks.brokers.outage`)."""

from __future__ import annotations

from dramatiq.brokers.rabbitmq import RabbitmqBroker

from .outage import WatchedBroker


class WatchedRabbitmqBroker(WatchedBroker, RabbitmqBroker):
    """Dramatiq's :class:`~dramatiq.brokers.rabbitmq.RabbitmqBroker`, its calls through its ``watch`` when set."""


__all__ = ["WatchedRabbitmqBroker"]
