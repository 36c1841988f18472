"""The hand-off: the enqueuing process gives its committed jobs to Redis or RabbitMQ right after the commit.

With ``TASKS_HANDOFF`` on (the default), a job enqueued in a transaction
is sent to the broker by the process that enqueued it, as soon as that
transaction commits (an ``after_commit`` event of the session), rather than
waiting for the relay's next pass: one broker call per job, as when the
broker is used directly. Its outbox row stays the record and the fallback:

* the row is written with a claim (the lease of ``TASKS_LEASE_SECONDS``),
  so the relay leaves it alone while the hand-off is under way;
* a job whose transaction (or savepoint) rolls back is never sent;
* once sent, the rows are marked ``relayed`` in batches, by a thread of the
  process, every :data:`FLUSH_SECONDS` and when the process exits: a commit
  per batch, not per job. The thread marks a row once it was sent
  :data:`MARK_DELAY_SECONDS` ago, and only if it is still ``pending``: by
  then a worker has usually recorded the job's run (``running``, ``done``),
  which already tells the relay to leave it alone, so the mark writes nothing
  for it (a write per job less in the enqueuing process, on the database every
  request uses);
* when the broker cannot be reached, the rows' claims are released (in the
  next batch) and the relay hands them over once the broker is back; the
  process then stops trying for :data:`PAUSE_SECONDS`, so that requests do
  not each wait for a broker that is away.

A process killed between the send and its batch's mark leaves rows the relay
sends again once their lease has run out: a job may be delivered twice, as
after any crash of the relay. Declare an idempotency key on jobs whose
effect must happen once.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import threading
import time
import typing as t
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import event

from .models import PENDING, RELAYED, JobRecord, utcnow

if t.TYPE_CHECKING:
    import dramatiq
    from sqlalchemy.orm import Session, SessionTransaction

    from .state import TasksState

logger = logging.getLogger("erlen_tasks")

TABLE: sa.Table = t.cast(sa.Table, JobRecord.__table__)

#: Seconds between two batches of marks.
FLUSH_SECONDS = 1.0

#: Seconds without hand-offs after the broker could not be reached (the relay takes the jobs meanwhile).
PAUSE_SECONDS = 5.0

#: Seconds after its hand-off before the marking thread marks a row (at most a third of the lease): time for
#: a worker to record the job's run, so that the mark has nothing to write. The lease keeps the relay away
#: from the row meanwhile.
MARK_DELAY_SECONDS = 2.0

#: The key of ``Session.info`` under which a session's jobs waiting for its commit are kept.
SESSION_KEY = "erlen_tasks.handoff"


@dataclass
class _Waiting:
    """A job enqueued in a session's transaction, to send once that transaction commits."""

    handoff: Handoff
    transaction: SessionTransaction
    row_id: int
    message: dramatiq.Message[t.Any]


class Handoff:
    """Sends one app's committed jobs to its broker from the enqueuing process; see the module.

    :param state: the app's erlen-tasks state (its broker is made on the first hand-off).
    """

    def __init__(self, state: TasksState) -> None:
        import erlen_db

        self.state = state
        self.engine = erlen_db.database_of(state.app).engine
        #: How long the relay leaves a row to its hand-off (``TASKS_LEASE_SECONDS``).
        self.lease = dt.timedelta(seconds=float(state.app.config.get("TASKS_LEASE_SECONDS", 30.0)))
        #: The claim token of this process's rows waiting for their hand-off.
        self.token = uuid.uuid4().hex
        #: The rows sent, in batches with the ``time.monotonic()`` of their hand-off (oldest first).
        self._sent: list[tuple[float, list[int]]] = []
        #: How long the marking thread lets a sent row wait (see :data:`MARK_DELAY_SECONDS`).
        self.mark_delay = min(MARK_DELAY_SECONDS, self.lease.total_seconds() / 3)
        self._unsent: list[int] = []
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_pid = 0
        self._exit_hook = False

    @property
    def active(self) -> bool:
        """Whether jobs enqueued now are handed off at the commit (not paused after a broker failure)."""
        return time.monotonic() >= self._paused_until

    def track(self, session: Session, row_id: int, message: dramatiq.Message[t.Any]) -> None:
        """Send ``message`` (whose row is ``row_id``) once ``session``'s transaction commits.

        :param session: the session the row was added to.
        :param row_id: the id of the job's row, written with this hand-off's claim.
        :param message: the job's Dramatiq message.
        """
        _listen()
        waiting = session.info.get(SESSION_KEY)
        if waiting is None:
            waiting = session.info[SESSION_KEY] = []
        transaction = session.get_nested_transaction() or session.get_transaction()
        assert transaction is not None  # enqueue() flushed the row: a transaction is in progress
        waiting.append(_Waiting(self, transaction, row_id, message))

    def send(self, waiting: list[_Waiting]) -> None:
        """Send the jobs of a committed transaction; never raises (the relay takes what was not sent)."""
        broker: dramatiq.Broker | None = None
        sent: list[int] = []
        unsent: list[int] = []
        for item in waiting:
            if broker is None and not unsent:
                try:
                    broker = self.state.broker
                except Exception as exc:
                    self._failed(exc)
            if broker is None or unsent:
                unsent.append(item.row_id)
                continue
            try:
                broker.enqueue(item.message)
            except Exception as exc:  # the broker is away (or refused): the relay takes it and the rest
                self._failed(exc)
                unsent.append(item.row_id)
                continue
            sent.append(item.row_id)
        with self._lock:
            if sent:
                self._sent.append((time.monotonic(), sent))
            self._unsent.extend(unsent)
            self._start_thread()

    def _failed(self, exc: BaseException) -> None:
        from .brokers.outage import BrokerUnreachable

        self._paused_until = time.monotonic() + PAUSE_SECONDS
        if isinstance(exc, BrokerUnreachable):
            return  # the broker's watch logged the outage, once (the relay hands the jobs over once it is back)
        logger.warning(
            "erlen-tasks: could not hand jobs to the broker after the commit (%s: %s); the relay will, and "
            "hand-offs pause for %s seconds.",
            type(exc).__name__,
            exc,
            PAUSE_SECONDS,
        )

    def _start_thread(self) -> None:
        # Called with the lock held. A thread of this process (a fork does not inherit the parent's).
        if self._thread is not None and self._thread_pid == os.getpid():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="erlen-tasks-handoff", daemon=True)
        self._thread_pid = os.getpid()
        self._thread.start()
        if not self._exit_hook:
            atexit.register(self.close)
            self._exit_hook = True

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush(older_than=self.mark_delay)

    def flush(self, *, older_than: float = 0.0) -> None:
        """Mark the sent rows ``relayed`` and release the claims of the unsent ones, in one transaction.

        A row a worker has recorded already (no longer ``pending``) is left as the worker wrote it.

        :param older_than: mark only the rows sent at least this many seconds ago (all by default); the
            claims of unsent rows are released whatever their age.
        """
        cutoff = time.monotonic() - older_than
        with self._lock:
            due = 0
            while due < len(self._sent) and self._sent[due][0] <= cutoff:
                due += 1
            batches, self._sent = self._sent[:due], self._sent[due:]
            unsent, self._unsent = self._unsent, []
        sent = [row_id for _, rows in batches for row_id in rows]
        if not sent and not unsent:
            return
        try:
            with self.engine.begin() as connection:
                if sent:
                    connection.execute(
                        sa.update(TABLE)
                        # A worker may have recorded its run already: keep what it wrote, and write nothing.
                        .where(TABLE.c.id.in_(sent), TABLE.c.claim_token == self.token, TABLE.c.status == PENDING)
                        .values(
                            status=RELAYED,
                            claim_token=None,
                            claimed_until=None,
                            updated_at=utcnow(),
                        )
                    )
                if unsent:
                    connection.execute(
                        sa.update(TABLE)
                        .where(TABLE.c.id.in_(unsent), TABLE.c.claim_token == self.token)
                        .values(claim_token=None, claimed_until=None)
                    )
        except Exception as exc:  # the database is away: try again at the next batch (the leases still hold)
            logger.warning("erlen-tasks: could not mark %d handed-off job(s) yet: %s", len(sent) + len(unsent), exc)
            with self._lock:
                self._sent[:0] = batches
                self._unsent[:0] = unsent

    def close(self) -> None:
        """Stop the marking thread, then write the marks still waiting."""
        if self._exit_hook:
            atexit.unregister(self.close)
            self._exit_hook = False
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread() and self._thread_pid == os.getpid():
            thread.join(timeout=10.0)
        self.flush()


_listening = threading.Lock()
_listened = False


def _listen() -> None:
    """Listen to every session's transactions, once per process.

    On the ``Session`` class rather than on each session: an instance's first listener costs as
    much as the rest of an enqueue, and requests make a session each. A session without jobs
    waiting costs a dictionary lookup per transaction.
    """
    global _listened
    if _listened:
        return
    from sqlalchemy.orm import Session

    with _listening:
        if not _listened:
            event.listen(Session, "after_commit", _after_commit)
            event.listen(Session, "after_soft_rollback", _after_soft_rollback)
            event.listen(Session, "after_transaction_end", _after_transaction_end)
            _listened = True


def _after_commit(session: Session) -> None:
    waiting = session.info.get(SESSION_KEY)
    if not waiting:
        return
    root = session.get_transaction()
    if root is not None and root.is_active:
        return  # a savepoint was released: its jobs wait for the transaction's own commit
    committed, waiting[:] = list(waiting), []
    by_handoff: dict[int, list[_Waiting]] = {}
    for item in committed:
        by_handoff.setdefault(id(item.handoff), []).append(item)
    for items in by_handoff.values():
        items[0].handoff.send(items)


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    waiting = session.info.get(SESSION_KEY)
    if waiting:
        waiting[:] = [item for item in waiting if not within(item.transaction, previous_transaction)]


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        waiting = session.info.get(SESSION_KEY)
        if waiting:  # the transaction ended without a commit (a close, say): its rows were never written
            waiting.clear()


def within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    """Whether ``transaction`` is ``ancestor`` or one of its savepoints."""
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


__all__ = ["FLUSH_SECONDS", "MARK_DELAY_SECONDS", "PAUSE_SECONDS", "Handoff"]
