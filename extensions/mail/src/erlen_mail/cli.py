"""The ``erlen mail`` command group."""

from __future__ import annotations

import itertools
import logging
import signal
import threading
import typing as t

import click
from flask import current_app
from flask.cli import AppGroup

from .errors import MailError
from .plugin import MAIL_HELP
from .state import state_of
from .templates import send_template

mail_group = AppGroup("mail", help=MAIL_HELP)


@mail_group.command("send-test")
@click.option("--to", "to", required=True, multiple=True, help="A recipient; repeat for more.")
@click.option("--sender", default=None, help="The From address; MAIL_DEFAULT_SENDER by default.")
def send_test_command(to: tuple[str, ...], sender: str | None) -> None:
    """Send a test message through the configured backend (template mail/erlen/test)."""
    backend = state_of().backend_name
    try:
        result = send_template("erlen/test", to=list(to), sender=sender, app_name=current_app.name, backend=backend)
    except MailError as exc:
        raise click.ClickException(str(exc)) from exc
    if result.status == "cancelled":
        raise click.ClickException(f"The test message was not sent: {result.error}.")
    click.echo(f"Sent a test message to {', '.join(to)} through the {backend!r} backend.")


def _outbox_app(*, wait_for_database: bool = False) -> t.Any:
    """The current app, once it is known to have the outbox and its table.

    :param wait_for_database: let an unreachable database pass (the worker
        waits for it, reporting each try); a missing table still stops.
    :raises click.ClickException: the ``db`` plugin is off, the database
        cannot be reached, or the ``mail_outbox`` table does not exist.
    """
    from .outbox import require_outbox

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        require_outbox(app)
    except MailError as exc:
        raise click.ClickException(str(exc)) from exc
    import sqlalchemy as sa

    import erlen_db

    from .outbox.models import OutboxMessage

    database = erlen_db.database_of(app)
    try:
        with database.engine.connect() as connection:
            exists = sa.inspect(connection).has_table(OutboxMessage.__tablename__)
    except sa.exc.SQLAlchemyError as exc:
        if wait_for_database and erlen_db.is_unavailable(exc):
            return app
        raise click.ClickException(erlen_db.database_error_message(exc, database)) from None
    if not exists:
        # Without this, every command fails on "no such table" with a traceback, and the worker
        # retries forever: the table comes from a migration the user has not run yet.
        raise click.ClickException(
            f"The mail outbox table {OutboxMessage.__tablename__!r} does not exist in the database at "
            f"{database.display_url}: run `erlen db upgrade` (it ships with erlen-mail's migration), "
            "or `erlen db create-all` in development."
        )
    return app


def _database_errors(app: t.Any) -> t.ContextManager[None]:
    """Report a database error met by a command as a clear message, not a traceback.

    :param app: the app whose database the command uses.
    """
    import erlen_db
    from erlen_db import reported_errors

    return reported_errors(erlen_db.database_of(app))


@mail_group.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--batch", "batch", type=click.IntRange(min=1), default=None, help="Messages per batch.")
@click.option("--poll", type=click.FloatRange(min=0.01), default=None, help="Seconds to wait when nothing is due.")
def worker_command(once: bool, batch: int | None, poll: float | None) -> None:
    """Deliver the queued messages of the durable outbox (needs db). Ctrl-C stops after the current message."""
    app = _outbox_app(wait_for_database=not once)  # before importing what needs erlen-db
    from .outbox.worker import BatchResult, OutboxWorker

    worker = OutboxWorker(app, batch_size=batch)
    stop = threading.Event()
    numbers = itertools.count(1)
    say = _progress(app)

    def request_stop(signum: int, frame: object) -> None:
        if not stop.is_set():
            say("Stopping after the current message (Ctrl-C again to force)...", event="mail.worker.stopping")
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def report(result: BatchResult) -> None:
        if result.errors and result.errors[0][1] == "database error":
            say(
                f"Database error, trying again: {result.errors[0][2]}",
                event="mail.worker.database_error",
                level=logging.ERROR,
                color="red",
            )
            return
        number = next(numbers)
        line = f"Batch {number}: {result.claimed} claimed: {result.summary()}"
        if result.recovered:
            line += f"; {result.recovered} interrupted send(s) recovered"
        counts = {name: getattr(result, name) for name in _BATCH_COUNTS}
        say(line, event="mail.worker.batch", err=False, batch=number, **counts)
        for row_id, outcome, reason in result.errors:
            say(
                f"  #{row_id} {outcome}: {reason}",
                event="mail.worker.message_" + outcome.replace(" ", "_"),
                level=logging.WARNING if outcome == "retrying" else logging.ERROR,
                color="yellow" if outcome == "retrying" else "red",
                outbox_id=row_id,
            )

    in_main_thread = threading.current_thread() is threading.main_thread()  # signals can only be handled there
    previous = (
        {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)} if in_main_thread else {}
    )
    say(
        f"Mail outbox worker started (backend {state_of().backend_name!r}); Ctrl-C to stop.",
        event="mail.worker.started",
        err=False,
        backend=state_of().backend_name,
    )
    try:
        with _database_errors(app):  # only --once gives up on one: the loop waits for the database
            totals = worker.run(
                once=once,
                poll=poll if poll is not None else float(app.config.get("MAIL_OUTBOX_POLL_SECONDS", 5.0)),
                stop=stop,
                report=report,
            )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say(
        ("Stopped" if stop.is_set() else "Done") + f": {totals.summary()}.",
        event="mail.worker.stopped",
        err=False,
        **{name: getattr(totals, name) for name in _BATCH_COUNTS},
    )


#: The counts of a batch that the worker's JSON log lines carry as fields.
_BATCH_COUNTS = ("claimed", "sent", "retrying", "failed", "uncertain", "released", "recovered")


class _Say(t.Protocol):
    def __call__(
        self, text: str, *, event: str, level: int = ..., err: bool = ..., color: str | None = ..., **fields: t.Any
    ) -> None: ...


def _progress(app: t.Any) -> _Say:
    """How the worker tells its progress: printed lines, or log records (``erlen_mail.worker``) when the app
    logs JSON lines (``LOG_FORMAT = "json"``), so that its output is as structured as everything else it logs.

    :param app: the worker's app.
    """
    from erlen.logs import json_logs

    if json_logs(app):

        def log(
            text: str,
            *,
            event: str,
            level: int = logging.INFO,
            err: bool = True,
            color: str | None = None,
            **fields: t.Any,
        ) -> None:
            _worker_logger.log(level, text.strip(), extra={"event": event, **fields})

        return log

    def echo(
        text: str, *, event: str, level: int = logging.INFO, err: bool = True, color: str | None = None, **fields: t.Any
    ) -> None:
        click.echo(click.style(text, fg=color) if color else text, err=err)

    return echo


#: The logger of the worker's progress with JSON logs.
_worker_logger = logging.getLogger("erlen_mail.worker")


_LISTED = {
    "pending": ("pending", "sending"),
    "failed": ("failed",),
    "uncertain": ("uncertain",),
    "sent": ("sent",),
    "discarded": ("discarded",),
    "suppressed": ("suppressed",),
    "open": ("pending", "sending", "failed", "uncertain"),
}


def _short(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


@mail_group.command("outbox")
@click.option(
    "--status",
    type=click.Choice(["open", "pending", "failed", "uncertain", "sent", "discarded", "suppressed", "all"]),
    default="open",
    show_default=True,
    help="Which messages: open is pending, sending, failed and uncertain; suppressed ones are never sent.",
)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--message-ids", is_flag=True, help="Show each message's Message-ID, to look it up in the relay's log.")
def outbox_command(status: str, limit: int, message_ids: bool) -> None:
    """List queued messages of the durable outbox, oldest first, with their last error."""
    app = _outbox_app()  # before importing what needs erlen-db
    import sqlalchemy as sa

    import erlen_db

    from .outbox.models import OutboxMessage

    query = sa.select(OutboxMessage).order_by(OutboxMessage.id).limit(limit)
    if status != "all":
        query = query.where(OutboxMessage.status.in_(_LISTED[status]))
    with _database_errors(app), erlen_db.database_of(app).session_scope() as session:
        rows = session.scalars(query).all()
        counts: dict[str, int] = {
            status: count
            for status, count in session.execute(
                sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
            )
        }
    click.echo(
        ", ".join(
            f"{counts.get(name, 0)} {name}"
            for name in ("pending", "sending", "failed", "uncertain", "sent", "discarded", "suppressed")
        )
    )
    if not rows:
        click.echo(f"No {status} messages." if status != "all" else "The outbox is empty.")
        return
    click.echo(f"{'ID':>6}  {'STATUS':<9} {'TRIES':>5}  {'TO':<30} {'SUBJECT':<30} LAST ERROR")
    for row in rows:
        click.echo(
            f"{row.id:>6}  {row.status:<9} {row.attempts:>5}  {_short(', '.join(row.recipient_list), 30):<30} "
            f"{_short(row.subject, 30):<30} {_short(row.last_error, 80)}"
        )
        if message_ids:
            click.echo(f"{'':>6}  Message-ID: {row.message_id}")


def _resolve(ids: tuple[int, ...], all_failed: bool, all_uncertain: bool, action: str, **values: t.Any) -> int:
    """Set ``values`` on the failed and uncertain messages named by ``ids`` or the flags; returns how many.

    :param ids: message IDs; each must exist and be failed or uncertain.
    :param all_failed: every failed message too.
    :param all_uncertain: every uncertain message too.
    :param action: what is done to them, for the errors (``retried``, ``discarded``).
    :param values: the columns to set.
    :raises click.ClickException: an ID that does not exist, or whose message is neither failed nor uncertain.
    """
    app = _outbox_app()  # before importing what needs erlen-db
    import sqlalchemy as sa

    import erlen_db

    from .outbox.models import FAILED, UNCERTAIN, OutboxMessage

    if not (ids or all_failed or all_uncertain):
        raise click.UsageError("Name message IDs, or pass --failed or --uncertain.")
    statuses = [FAILED, UNCERTAIN]
    condition = sa.or_(
        OutboxMessage.id.in_(ids),
        OutboxMessage.status == FAILED if all_failed else sa.false(),
        OutboxMessage.status == UNCERTAIN if all_uncertain else sa.false(),
    )
    with _database_errors(app), erlen_db.database_of(app).session_scope() as session:
        if ids:
            found: dict[int, str] = {
                ident: status
                for ident, status in session.execute(
                    sa.select(OutboxMessage.id, OutboxMessage.status).where(OutboxMessage.id.in_(ids))
                )
            }
            for ident in ids:
                if ident not in found:
                    raise click.ClickException(f"There is no queued message {ident}.")
                if found[ident] not in statuses:
                    raise click.ClickException(
                        f"Message {ident} is {found[ident]}: only failed and uncertain messages can be {action}."
                    )
        result = session.execute(
            sa.update(OutboxMessage)
            .where(condition, OutboxMessage.status.in_(statuses))
            .values(claim_token=None, claimed_until=None, **values)
        )
        return int(t.cast(t.Any, result).rowcount or 0)


@mail_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="Retry every failed message.")
@click.option(
    "--uncertain", "all_uncertain", is_flag=True, help="Send every uncertain message again (same Message-ID)."
)
def retry_command(ids: tuple[int, ...], all_failed: bool, all_uncertain: bool) -> None:
    """Queue failed or uncertain messages again (by ID, or all of them), with a fresh count of attempts.

    An uncertain message may already have reached its recipients: it is sent
    again with the same Message-ID, which lets mail clients spot the copy.
    """
    import datetime as dt

    count = _resolve(
        ids, all_failed, all_uncertain, "retried", status="pending", attempts=0, next_attempt_at=dt.datetime.now(dt.UTC)
    )
    click.echo(f"Queued {count} message(s) again; `erlen mail worker` will send them.")


@mail_group.command("discard")
@click.argument("ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="Discard every failed message.")
@click.option("--uncertain", "all_uncertain", is_flag=True, help="Discard every uncertain message.")
def discard_command(ids: tuple[int, ...], all_failed: bool, all_uncertain: bool) -> None:
    """Settle failed or uncertain messages without sending them (by ID, or all of them).

    For an uncertain message that did reach its recipients (the relay's log
    shows its Message-ID), or one no longer worth sending. The message stays
    in the outbox, as discarded, and is never sent.
    """
    count = _resolve(ids, all_failed, all_uncertain, "discarded", status="discarded")
    click.echo(f"Discarded {count} message(s); they will not be sent.")
