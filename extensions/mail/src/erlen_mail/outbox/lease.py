"""The lease of a worker's claimed batch, kept alive by a heartbeat while the batch is delivered.

A claimed row is held until ``claimed_until``; once that has passed, any
worker may claim it again (``pending``) or report it ``uncertain``
(``sending``). A short lease is what lets a crashed worker's messages go out
within seconds, and the heartbeat is what lets a live worker keep its rows
however long the batch takes (a slow server, a timeout).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import typing as t
from collections.abc import Callable
from types import TracebackType

import sqlalchemy as sa

from .models import PENDING, SENDING, OutboxMessage

logger = logging.getLogger("erlen_mail")

TABLE: sa.Table = t.cast(sa.Table, OutboxMessage.__table__)

#: The heartbeat renews the lease this many times per lease: a renewal may fail or wait
#: (the database is briefly away, SQLite's write lock is busy) several times before it runs out.
RENEWALS_PER_LEASE = 5


def renew(engine: sa.Engine, token: str, until: dt.datetime) -> int:
    """Extend to ``until`` the lease of the rows the batch ``token`` still holds; returns how many.

    Rows another worker took over (their lease had run out) carry another
    token, and rows already moved to ``uncertain`` are no longer held: neither
    is touched.

    :param engine: the app's engine.
    :param token: the batch's ``claim_token``.
    :param until: the new ``claimed_until``.
    """
    with engine.begin() as connection:
        result = connection.execute(
            sa.update(TABLE)
            .where(TABLE.c.claim_token == token, TABLE.c.status.in_((PENDING, SENDING)))
            .values(claimed_until=until)
        )
    return int(result.rowcount or 0)


class Heartbeat:
    """A thread renewing a batch's lease every ``lease / RENEWALS_PER_LEASE`` seconds, while in a ``with`` block.

    :param engine: the app's engine; the thread uses a connection of its pool.
    :param token: the batch's ``claim_token``.
    :param lease: how long each renewal holds the rows (``MAIL_OUTBOX_LEASE_SECONDS``).
    :param clock: the worker's clock (the renewal sets ``clock() + lease``).
    :param lock: held during each renewal; the worker holds it while it writes the batch's rows.
    """

    def __init__(
        self,
        engine: sa.Engine,
        token: str,
        lease: dt.timedelta,
        clock: Callable[[], dt.datetime],
        *,
        lock: threading.Lock | None = None,
    ) -> None:
        self.engine = engine
        self.lock = lock or threading.Lock()
        self.token = token
        self.lease = lease
        self.clock = clock
        self.interval = lease.total_seconds() / RENEWALS_PER_LEASE
        #: Renewals made (for tests and logs).
        self.renewals = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"erlen-mail-lease-{token[:8]}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        # A renewal in progress finishes within the database's own timeouts; one that outlives
        # this wait renews rows the batch has released or recorded, which the token no longer matches.
        self._thread.join(timeout=self.interval + 1.0)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.lock:
                    renew(self.engine, self.token, self.clock() + self.lease)
                self.renewals += 1
            except Exception as exc:  # never let the thread die: the next beat tries again
                logger.warning("Mail outbox: could not renew the claim of batch %s: %s", self.token[:8], exc)


__all__ = ["RENEWALS_PER_LEASE", "Heartbeat", "renew"]
