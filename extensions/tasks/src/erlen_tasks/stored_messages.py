"""The message a job's row keeps, read back: a row no try can read is named, with what to do.

A row's ``message`` is Dramatiq's encoding of the job, written by
:meth:`~erlen_tasks.jobs.Job.enqueue`. One written by another program, or
edited by hand, may not decode; no later try reads it better, so the
database broker's consumer and the outbox's relay make such a row ``dead``
with :attr:`UnreadableMessage.reason` rather than fail on it again and again
(the relay would stop at it, holding up every job queued after it).
"""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.errors import DecodeError

logger = logging.getLogger("erlen_tasks")


class UnreadableMessage(ValueError):
    """A row's stored message cannot be decoded.

    :param row_id: the row's id.
    :param error: Dramatiq's error, whose cause says what is wrong with the stored text.
    """

    def __init__(self, row_id: int, error: DecodeError) -> None:
        cause = error.__cause__ if error.__cause__ is not None else error
        #: The row's ``last_error``: what is wrong and what to do.
        self.reason = (
            f"The stored message cannot be read ({type(cause).__name__}: {cause}): it was not written by "
            "erlen-tasks or was changed since. Enqueue the job again."
        )
        self.row_id = row_id
        super().__init__(f"Job row {row_id}: {self.reason}")


def decode_stored(row_id: int, data: str) -> dramatiq.Message[object]:
    """The message of the row ``row_id``, whose ``message`` column holds ``data``.

    :param row_id: the row's id, for the error.
    :param data: the stored text.
    :raises UnreadableMessage: it does not decode.
    """
    try:
        return dramatiq.Message.decode(data.encode())
    except DecodeError as exc:
        raise UnreadableMessage(row_id, exc) from None


def log_dead(error: UnreadableMessage, queue: str) -> None:
    """Log, once, that the row of ``error`` is now ``dead``.

    :param error: the row's error.
    :param queue: the queue (as stored) whose row it is.
    """
    logger.error("erlen-tasks: job row %s of the queue %r is dead: %s", error.row_id, queue, error.reason)
