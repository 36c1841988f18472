"""Enqueuing jobs with the caller's database transaction (the transactional outbox)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import json.encoder
import threading
import typing as t

import dramatiq
import sqlalchemy as sa
from dramatiq.encoder import JSONEncoder
from sqlalchemy import event
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict

if t.TYPE_CHECKING:
    from sqlalchemy.orm import Session, SessionTransaction

from .errors import JobArgumentError, TasksError
from .handoff import within
from .jobs import Job
from .models import PENDING, JobRecord, utcnow
from .outbox import insert_row
from .state import state_of

if t.TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.orm import Session


def build_message(app: Flask, job: Job, arguments: dict[str, t.Any]) -> dramatiq.Message[t.Any]:
    """The Dramatiq message of one run of ``job`` with JSON ``arguments``.

    :param app: the app (for its queue prefix).
    :param job: the job.
    :param arguments: the arguments, as :meth:`Job.dump_arguments` returns them.
    """
    return dramatiq.Message(
        queue_name=state_of(app).queue_name(job.queue),
        actor_name=job.name,
        args=(),
        kwargs=arguments,
        options={},
    )


#: The fields of a Dramatiq message, in the order its ``asdict()`` gives them.
_MESSAGE_FIELDS = tuple(field.name for field in dataclasses.fields(dramatiq.Message))

#: What Dramatiq's JSONEncoder calls for each message, made once: ``json.dumps`` with its own separators builds
#: an encoder per call, and ``Message.asdict`` looks the fields up per call (together a quarter of a build).
_JSON = json.JSONEncoder(separators=(",", ":"))

#: ``_JSON``'s C encoder itself, made once too (``JSONEncoder.encode`` makes one per call: half its cost for a
#: message), or ``None`` where the json module has no C speed-ups. Without the check for circular references
#: (whose state would be shared by the threads): a message holds JSON values only, the arguments as
#: ``Job.dump_arguments`` made them, which cannot refer to themselves.
_C_ENCODER: t.Callable[[t.Any, int], t.Sequence[str]] | None = (
    None
    if json.encoder.c_make_encoder is None  # type: ignore[attr-defined]
    else json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _JSON.default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )
)


def encode_message(message: dramatiq.Message[t.Any]) -> str:
    """``message`` as the text Dramatiq's encoder makes of it (``message.encode().decode()``).

    With Dramatiq's default JSON encoder, the same text made without its per-call set-up; with any other
    encoder set (``dramatiq.set_encoder``), that encoder's.

    :param message: the message.
    """
    if type(dramatiq.get_encoder()) is not JSONEncoder:
        return message.encode().decode()
    fields = {name: getattr(message, name) for name in _MESSAGE_FIELDS}
    if _C_ENCODER is None:
        return _JSON.encode(fields)
    return "".join(_C_ENCODER(fields, 0))


def record_values(job: Job, message: dramatiq.Message[t.Any], eta: dt.datetime, now: dt.datetime) -> dict[str, t.Any]:
    """The columns of a new ``pending`` row for ``message``.

    :param job: the job.
    :param message: its Dramatiq message.
    :param eta: when it may run.
    :param now: the time of the enqueue.
    """
    return {
        "message_id": message.message_id,
        "job": job.name,
        "queue": message.queue_name,
        "priority": job.priority,
        "status": PENDING,
        "eta": eta,
        "message": encode_message(message),
        "attempts": 0,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
        "claim_token": None,
        "claimed_until": None,
    }


def record_for(job: Job, message: dramatiq.Message[t.Any], eta: dt.datetime, now: dt.datetime) -> JobRecord:
    """A new ``pending`` row for ``message`` (an ORM object, not added to any session).

    :param job: the job.
    :param message: its Dramatiq message.
    :param eta: when it may run.
    :param now: the time of the enqueue.
    """
    return JobRecord(**record_values(job, message, eta, now))


_MAPPER: sa.orm.Mapper[JobRecord] = sa.inspect(JobRecord)


def enqueue(
    job: Job | str,
    /,
    *args: t.Any,
    eta: dt.datetime | None = None,
    delay: float | None = None,
    session: Session | None = None,
    app: Flask | None = None,
    **kwargs: t.Any,
) -> JobRecord:
    """Enqueue a run of ``job`` in the current database transaction.

    The job's row is written in ``session``'s transaction (the app context's
    ``erlen_db.session`` by default), not committed: the job runs
    only once the caller commits, and never when it rolls back. With the
    database broker, workers take it from that table; with Redis or RabbitMQ,
    this process hands it to the broker right after the commit
    (``TASKS_HANDOFF``), and the relay does when that fails or the job has an
    ``eta`` to wait for, keeping it while the broker is away.

    :param job: the job, or its name.
    :param args: the job's positional arguments.
    :param eta: the earliest time it may run (timezone-aware); now by default.
    :param delay: or: seconds from now before it may run.
    :param session: the SQLAlchemy session whose transaction the job belongs to.
    :param app: the app; the current app by default.
    :param kwargs: the job's keyword arguments.
    :returns: the new row (its ``id`` set), in ``session``.
    :raises UnknownJobError: no enabled plugin declares the job.
    :raises JobArgumentError: the arguments do not match the job's signature or types, or do not survive JSON.
    """
    from flask import current_app, has_app_context

    import erlen_db

    if app is None:
        if not has_app_context():
            raise TasksError(
                "erlen_tasks.enqueue() outside an app context needs app= and session=: pass them, or push an "
                "app context (`with app.app_context():`)."
            )
        app = t.cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
    state = state_of(app)
    declared = state.get_job(job if isinstance(job, str) else job.name)
    if not isinstance(job, str) and declared is not job:
        raise TasksError(f"Job {declared.name!r} is not the job of that name the app's plugins declare.")
    arguments = declared.dump_arguments(args, kwargs)
    now = utcnow()
    if eta is not None and delay is not None:
        raise JobArgumentError(f"Job {declared.name!r}: pass eta= or delay=, not both.")
    if eta is not None:
        if eta.tzinfo is None:
            raise JobArgumentError(f"Job {declared.name!r}: eta={eta!r} has no time zone; pass an aware datetime.")
        when = eta.astimezone(dt.UTC)
    else:
        when = now + dt.timedelta(seconds=delay or 0)
    message = build_message(app, declared, arguments)
    values = record_values(declared, message, when, now)
    if session is None:
        if not has_app_context():
            raise TasksError("erlen_tasks.enqueue() outside an app context needs session=.")
        session = erlen_db.database_of(app).session
    handoff = state.handoff if state.hands_off and when <= now and state.handoff.active else None
    if handoff is not None:
        # Claimed by this process's hand-off: the relay leaves it alone unless the hand-off fails or dies.
        values["claim_token"] = handoff.token
        values["claimed_until"] = now + handoff.lease
    # Without the ORM's unit of work, and prepared once (see erlen_tasks.outbox): on the session's connection,
    # in its transaction.
    connection = session.connection(bind_arguments={"mapper": JobRecord})
    row_id = insert_row(connection, values, state.prepared_insert(connection.dialect))
    if handoff is not None:
        handoff.track(session, row_id, message)
    if state.metrics is not None:
        state.metrics.enqueued.labels(declared.name, declared.queue).inc()
    # The row as the session's own (persistent, as if loaded): a caller may change it and commit, as with
    # an ORM insert, without paying for the ORM's unit of work on the insert. Made as the ORM makes the
    # rows it loads (its values put in place, not set one by one through the instrumented constructor,
    # which cost as much as the INSERT): every column is in the values, nothing is left to load.
    if not _MAPPER.configured:  # what the ORM's constructor does first
        sa.orm.configure_mappers()
    row = _MAPPER.class_manager.new_instance()
    instance_dict(row).update(values, id=row_id)
    make_transient_to_detached(row)
    session.add(row)
    _forget_on_rollback(session, row)
    return row


#: ``session.info`` key: the rows :func:`enqueue` attached, each with the transaction (or savepoint) that wrote it.
ATTACHED_KEY = "erlen_tasks.attached_rows"

_listening = threading.Lock()
_listened = False


def _forget_on_rollback(session: Session, row: JobRecord) -> None:
    """Expunge ``row`` from ``session`` if the transaction or savepoint that wrote it rolls back.

    The ORM does so for the rows it inserts itself; :func:`enqueue` writes its row with a Core
    ``INSERT``, so without this a rolled-back job's row would still look persistent.
    """
    global _listened
    if not _listened:
        from sqlalchemy.orm import Session

        with _listening:
            if not _listened:
                # On the class, once: an instance's first listener costs as much as an enqueue.
                event.listen(Session, "after_soft_rollback", _after_soft_rollback)
                event.listen(Session, "after_commit", _after_commit)
                _listened = True
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(ATTACHED_KEY, []).append((transaction, row))


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    attached = session.info.get(ATTACHED_KEY)
    if not attached:
        return
    kept = []
    for transaction, row in attached:
        if within(transaction, previous_transaction):
            if row in session:
                session.expunge(row)
        else:
            kept.append((transaction, row))
    attached[:] = kept


def _after_commit(session: Session) -> None:
    root = session.get_transaction()
    if root is None or not root.is_active:  # the transaction committed, not a savepoint released
        session.info.pop(ATTACHED_KEY, None)


__all__ = ["build_message", "encode_message", "enqueue", "record_for", "record_values"]
