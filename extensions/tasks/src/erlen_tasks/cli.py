"""The ``erlen tasks`` command group: worker, relay, list, retry, purge."""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
import typing as t
from collections.abc import Callable

import click
from flask import current_app
from flask.cli import AppGroup

from .plugin import TASKS_HELP

if t.TYPE_CHECKING:
    from .worker import RunReport

tasks_group = AppGroup("tasks", help=TASKS_HELP)


def _app() -> t.Any:
    """The current app, once its jobs table is known to exist.

    :raises click.ClickException: the database cannot be reached or the table is missing.
    """
    import sqlalchemy as sa

    import erlen_db

    from .models import JobRecord

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    database = erlen_db.database_of(app)
    try:
        with database.engine.connect() as connection:
            exists = sa.inspect(connection).has_table(JobRecord.__tablename__)
    except sa.exc.SQLAlchemyError as exc:
        raise click.ClickException(erlen_db.database_error_message(exc, database)) from None
    if not exists:
        raise click.ClickException(
            f"The jobs table {JobRecord.__tablename__!r} does not exist in the database at {database.display_url}: "
            "run `erlen db upgrade` (it ships with erlen-tasks' migration), or `erlen db create-all` in development."
        )
    return app


#: The second :func:`_stamp` last formatted, and its text.
_stamped: tuple[int, str] = (-1, "")


def _stamp() -> str:
    """The local time, ``HH:MM:SS``: formatted once per second, not once per line (a busy worker writes many)."""
    global _stamped
    second = int(time.time())
    last = _stamped
    if last[0] != second:
        last = _stamped = (second, dt.datetime.fromtimestamp(second).strftime("%H:%M:%S"))
    return last[1]


#: Seconds a finished run's progress line may wait before it is written (with the others of that moment).
_PROGRESS_SECONDS = 0.5


class _ProgressLines:
    """The worker's progress lines of finished runs, written together every :data:`_PROGRESS_SECONDS`.

    ``click.echo`` writes and flushes each call: at hundreds of jobs a second, a line per job cost the
    worker as much as a tenth of the job's own handling. The lines are kept and written in one call per
    period by a thread of their own, and at the end; failures are still written at once (see the worker
    command).
    """

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="erlen-tasks-progress", daemon=True)

    def start(self) -> None:
        """Start writing every :data:`_PROGRESS_SECONDS`."""
        self._thread.start()

    def add(self, line: str) -> None:
        """Keep ``line`` for the next write."""
        with self._lock:
            self._lines.append(line)

    def write(self) -> None:
        """Write the lines kept so far, in one call."""
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            click.echo("\n".join(lines))

    def _run(self) -> None:
        while not self._stop.wait(_PROGRESS_SECONDS):
            self.write()

    def close(self) -> None:
        """Stop the thread, then write what is left."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10.0)
        self.write()


def _seconds(seconds: float) -> str:
    """A delay for people: ``0.2s``, ``22s``, ``1 min 5 s``, ``2 h 3 min``.

    :param seconds: the delay.
    """
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(round(whole / 60), 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def progress_reporter(progress: _ProgressLines) -> Callable[[RunReport], None]:
    """The worker command's report of each finished run: its line kept in ``progress``, a failure's written at once.

    :param progress: where the lines of successful runs wait for their write.
    """

    def report(run: RunReport) -> None:
        if run.outcome == "retrying":
            # The run's duration and its next try's delay apart: "retrying in 0.063s" read as the delay.
            later = f", retrying in {_seconds(run.retry_in)}" if run.retry_in is not None else ", retrying"
            line = f"[{_stamp()}] {run.job} {run.message_id[:8]} failed after {run.seconds:.3f}s{later}"
        else:
            line = f"[{_stamp()}] {run.job} {run.message_id[:8]} {run.outcome} in {run.seconds:.3f}s"
        if run.error:
            click.echo(
                click.style(f"{line}: {run.error}", fg="yellow" if run.outcome == "retrying" else "red"), err=True
            )
        else:
            progress.add(line)

    return report


@tasks_group.command("worker")
@click.option("--queue", "queues", multiple=True, help="Work on this queue only; repeat for more. All by default.")
@click.option("--threads", type=click.IntRange(min=1, max=64), default=None, help="Jobs run at once.")
@click.option("--no-relay", is_flag=True, help="Do not relay committed jobs to Redis or RabbitMQ from here.")
@click.option("--no-scheduler", is_flag=True, help="Do not enqueue periodic (cron) jobs from here.")
@click.option("--once", is_flag=True, help="Run the jobs due now (and those they enqueue), then exit.")
def worker_command(
    queues: tuple[str, ...], threads: int | None, no_relay: bool, no_scheduler: bool, once: bool
) -> None:
    """Run background jobs until stopped; SIGTERM or Ctrl-C stops after the running jobs end."""
    from .errors import UnknownQueueError
    from .state import state_of
    from .worker import WorkerOptions, run_worker

    app = _app()
    state = state_of(app)
    try:
        state.check_queues(queues)
    except UnknownQueueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--queue'") from None
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        if not stop.is_set():
            click.echo(f"[{_stamp()}] Stopping after the running jobs end (Ctrl-C again to force)...", err=True)
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    progress = _ProgressLines()
    report = progress_reporter(progress)

    def report_relay(result: t.Any) -> None:
        if result.unreachable or result.database_unreachable:
            # The broker's outage is logged once, and its end (see erlen_tasks.brokers.outage); the app's
            # database's too, by the relay (see erlen_tasks.relay).
            return
        if result.database_failed:  # the outbox itself: the broker may be fine
            click.echo(
                click.style(
                    f"[{_stamp()}] Relay: the app's database failed ({result.error}); committed jobs are kept "
                    "and relayed once it answers.",
                    fg="red",
                ),
                err=True,
            )
        elif result.error:
            click.echo(
                click.style(f"[{_stamp()}] Relay: broker unavailable, jobs kept: {result.error}", fg="red"), err=True
            )
        else:
            click.echo(f"[{_stamp()}] Relay: {result.relayed} job(s) handed to {state.broker_kind}")

    def report_schedule(enqueued: list[tuple[str, dt.datetime]]) -> None:
        for name, period in enqueued:
            click.echo(f"[{_stamp()}] Scheduled {name} for the period of {period:%Y-%m-%d %H:%M} UTC")

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = (
        {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)} if in_main_thread else {}
    )
    options = WorkerOptions(
        queues=queues,
        threads=threads or int(app.config.get("TASKS_WORKER_THREADS", 4)),
        relay=not no_relay,
        # --once enqueues the periods due now itself, before it starts (see _run_once).
        scheduler=not (no_scheduler or once),
    )
    names = ", ".join(sorted(queues or {state.queue_name(job.queue) for job in state.jobs.values()}))
    until = "runs the jobs due now, then exits" if once else "Ctrl-C or SIGTERM to stop"
    click.echo(
        f"[{_stamp()}] Worker started: broker {state.broker_kind}, {options.threads} thread(s), "
        f"queues {names or '(no jobs declared)'}; {until}.",
    )
    progress.start()
    try:
        if once:
            counts = _run_once(
                app, stop, options, scheduler=not no_scheduler, report=report, report_relay=report_relay,
                report_schedule=report_schedule,
            )  # fmt: skip
        else:
            counts = run_worker(
                app, stop, options, report=report, report_relay=report_relay, report_schedule=report_schedule
            )
    finally:
        progress.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    ended = "Done" if once and not stop.is_set() else "Stopped"
    click.echo(f"[{_stamp()}] {ended}: " + ", ".join(f"{count} {name}" for name, count in counts.items()) + ".")


#: Seconds between the looks of ``worker --once`` at the jobs still waiting.
_ONCE_POLL_SECONDS = 0.05


def _run_once(
    app: t.Any,
    stop: threading.Event,
    options: t.Any,
    *,
    scheduler: bool,
    report: Callable[[RunReport], None],
    report_relay: Callable[[t.Any], None],
    report_schedule: Callable[[list[tuple[str, dt.datetime]]], None],
) -> dict[str, int]:
    """``worker --once``: run the committed jobs due now, and those they enqueue due now, until none is waiting.

    The periodic jobs whose period is due are enqueued first (unless ``scheduler`` is false), as a worker's
    scheduler would; jobs that failed and wait for their retry's time, or enqueued for later, are left. A
    database error stops it with the error (a running worker would keep trying).

    :param app: the app.
    :param stop: set by SIGTERM or Ctrl-C: stops after the running jobs end.
    :param options: the worker's options (without its scheduler).
    :param scheduler: enqueue the periodic jobs due now first.
    :returns: the counts of outcomes.
    :raises click.ClickException: the database failed.
    """
    import sqlalchemy as sa

    import erlen_db

    from .background import waiting_jobs
    from .scheduler import Scheduler
    from .worker import start_worker

    counts = {"done": 0, "retrying": 0, "dead": 0, "skipped": 0}
    try:
        if scheduler:
            enqueued = Scheduler(app).tick()
            if enqueued:
                report_schedule(enqueued)
        if not waiting_jobs(app, options.queues):
            return counts
        # The worker's own event, which its close sets: ``stop`` tells only whether SIGTERM or Ctrl-C came.
        started = start_worker(app, threading.Event(), options, report=report, report_relay=report_relay)
        try:
            while not stop.is_set() and waiting_jobs(app, options.queues):
                stop.wait(_ONCE_POLL_SECONDS)
        finally:
            counts = started.close(options.stop_timeout)
    except sa.exc.SQLAlchemyError as exc:
        message = erlen_db.database_error_message(exc, erlen_db.database_of(app))
        raise click.ClickException(f"{message} (worker --once gives up; without --once it keeps trying)") from None
    return counts


@tasks_group.command("relay")
@click.option("--once", is_flag=True, help="Relay what is due now, then exit.")
def relay_command(once: bool) -> None:
    """Hand committed jobs to Redis or RabbitMQ (the worker does this too, unless --no-relay)."""
    from .relay import Relay
    from .state import state_of

    app = _app()
    state = state_of(app)
    if not state.uses_relay:
        raise click.ClickException("TASKS_BROKER is 'database': workers run jobs from the table, nothing to relay.")
    if once:
        _relay_once(app)
        return
    from .brokers import close_broker, make_broker

    # A broker of its own: the relay tries an absent broker pass after pass, and its outage message says so.
    broker = make_broker(state, keeps_trying=True)
    relay = Relay(app, broker=broker)

    def report(result: t.Any) -> None:
        # An unreachable broker is logged once per outage by the broker's watch, not once per pass; an
        # unreachable database by the relay's.
        error = result.error if result.error and not (result.unreachable or result.database_unreachable) else None
        if result.relayed or error:
            click.echo(f"Relayed {result.relayed}" + (f"; {error}" if error else ""))

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        relay.run(stop, report=report)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        close_broker(broker)


def _relay_once(app: t.Any) -> None:
    """``relay --once``: hand over what is due now, on a broker of its own that raises its client's errors.

    :raises click.ClickException: the broker (or the database) failed; an unreachable broker is named by its
        host and port, never its URL.
    """
    from .brokers import close_broker, make_broker
    from .brokers.outage import broker_location
    from .relay import Relay
    from .state import state_of

    state = state_of(app)
    broker = make_broker(state, watched=False)  # one try: no outage to watch, no "keeps trying" line
    try:
        relay = Relay(app, broker=broker, watch_database=False)  # one try: the error below says what failed
        total = 0
        while True:
            result = relay.relay_once()
            total += result.relayed
            if result.unreachable:
                where = broker_location(state.broker_kind, str(app.config.get("TASKS_URL") or ""))
                raise click.ClickException(
                    f"The jobs' {where} (TASKS_URL) cannot be reached ({result.error}): relayed {total} job(s); "
                    "the others wait in the outbox table. Check that it runs and this host can reach it, then "
                    "relay again (workers relay on their own once it answers)."
                )
            if result.error:
                raise click.ClickException(f"Relayed {total} job(s), then: {result.error}; the rest are kept.")
            if result.relayed < relay.batch_size:
                break
    finally:
        close_broker(broker)
    click.echo(f"Relayed {total} job(s).")


#: The largest job id (``tasks_jobs.id`` is a 32-bit integer on PostgreSQL): a larger number names no job, and
#: the database driver would refuse it with a bare ``OverflowError`` or ``DataError``.
MAX_ID = 2**31 - 1

#: The longest span ``purge --older-than`` takes, in hours (over a century): the cut-off must stay a date.
MAX_HOURS = 1_000_000.0


def _hours(context: click.Context, parameter: click.Parameter, value: float) -> float:
    """Check ``--older-than``: a number of hours from 0 to :data:`MAX_HOURS` (click's ``FloatRange`` lets NaN by)."""
    if not 0 <= value <= MAX_HOURS:  # false for NaN too
        raise click.BadParameter(f"{value} is not a number of hours from 0 to {MAX_HOURS:,.0f}.")
    return value


_LISTED = {
    "open": ("pending", "relayed", "running", "failed"),
    "pending": ("pending",),
    "relayed": ("relayed",),
    "running": ("running",),
    "failed": ("failed",),
    "dead": ("dead",),
    "done": ("done",),
}


def _short(text: str | None, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


@tasks_group.command("list")
@click.option(
    "--status",
    type=click.Choice([*_LISTED, "all"]),
    default="open",
    show_default=True,
    help="Which jobs: open is pending, relayed, running and failed (to be retried).",
)
@click.option("--limit", type=click.IntRange(min=1, max=MAX_ID), default=100, show_default=True)
def list_command(status: str, limit: int) -> None:
    """List jobs, oldest first, with their last error."""
    import sqlalchemy as sa

    import erlen_db

    from .models import STATUSES, JobRecord

    app = _app()
    query = sa.select(JobRecord).order_by(JobRecord.id).limit(limit)
    if status != "all":
        query = query.where(JobRecord.status.in_(_LISTED[status]))
    with erlen_db.database_of(app).session_scope() as session:
        rows = session.scalars(query).all()
        counts: dict[str, int] = {
            name: count
            for name, count in session.execute(sa.select(JobRecord.status, sa.func.count()).group_by(JobRecord.status))
        }
    click.echo(", ".join(f"{counts.get(name, 0)} {name}" for name in STATUSES))
    if not rows:
        click.echo(f"No {status} jobs." if status != "all" else "No jobs.")
        return
    click.echo(f"{'ID':>6}  {'STATUS':<8} {'TRIES':>5}  {'JOB':<36} {'QUEUE':<16} {'ETA (UTC)':<19}  LAST ERROR")
    for row in rows:
        click.echo(
            f"{row.id:>6}  {row.status:<8} {row.attempts:>5}  {_short(row.job, 36):<36} {_short(row.queue, 16):<16} "
            f"{row.eta:%Y-%m-%d %H:%M:%S}  {_short(row.last_error, 80)}"
        )


@tasks_group.command("retry")
@click.argument("ids", nargs=-1, type=click.IntRange(min=1, max=MAX_ID))
@click.option("--dead", "all_dead", is_flag=True, help="Retry every dead job.")
def retry_command(ids: tuple[int, ...], all_dead: bool) -> None:
    """Queue dead jobs again (by ID, or all of them), with a fresh count of tries."""
    import sqlalchemy as sa

    import erlen_db

    from .models import DEAD, FAILED, JobRecord
    from .operations import requeue, retryable
    from .state import state_of

    app = _app()
    if not (ids or all_dead):
        raise click.UsageError("Name job IDs, or pass --dead.")
    statuses = retryable(app)
    condition = sa.or_(JobRecord.id.in_(ids), JobRecord.status == DEAD if all_dead else sa.false())
    with erlen_db.database_of(app).session_scope() as session:
        rows = session.scalars(sa.select(JobRecord).where(condition)).all()
        found = {row.id: row for row in rows}
        for ident in ids:
            if ident not in found:
                raise click.ClickException(f"There is no job {ident}.")
            status = found[ident].status
            if status == FAILED and status not in statuses:
                raise click.ClickException(
                    f"Job {ident} is failed: its next try waits in {state_of(app).broker_kind}, which runs it "
                    "after its backoff; queued again from here, it would run twice. Only dead jobs can be retried."
                )
            if status not in statuses:
                what = "dead and failed jobs" if FAILED in statuses else "dead jobs"
                raise click.ClickException(f"Job {ident} is {status}: only {what} can be retried.")
        count = requeue(rows, statuses)
    click.echo(f"Queued {count} job(s) again.")


@tasks_group.command("purge")
@click.option(
    "--status",
    type=click.Choice(["finished", "done", "dead", "pending"]),
    default="finished",
    show_default=True,
    help="Which jobs to delete: finished is done and dead; pending deletes jobs not run (nor relayed) yet.",
)
@click.option(
    "--older-than",
    type=float,
    default=0,
    callback=_hours,
    help="Only jobs last changed this many hours ago.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge_command(status: str, older_than: float, yes: bool) -> None:
    """Delete finished (or pending) jobs from the jobs table."""
    import sqlalchemy as sa

    import erlen_db

    from .models import DEAD, DONE, PENDING, JobRecord, utcnow

    app = _app()
    statuses = {"finished": (DONE, DEAD), "done": (DONE,), "dead": (DEAD,), "pending": (PENDING,)}[status]
    condition = sa.and_(
        JobRecord.status.in_(statuses), JobRecord.updated_at <= utcnow() - dt.timedelta(hours=older_than)
    )
    if status == "pending" and not yes:
        click.confirm("Delete jobs that have not run yet? They will never run", abort=True)
    with erlen_db.database_of(app).session_scope() as session:
        result = session.execute(sa.delete(JobRecord).where(condition))
        count = int(t.cast(t.Any, result).rowcount or 0)
    click.echo(f"Deleted {count} {status} job(s).")
