"""The brokers of erlen-tasks: Dramatiq's Redis and RabbitMQ brokers, and one on the app's database."""

from __future__ import annotations

from .database import DatabaseBroker, DatabaseConsumer
from .factory import close_broker, make_broker
from .tracking import Tracking

__all__ = ["DatabaseBroker", "DatabaseConsumer", "Tracking", "close_broker", "make_broker"]
