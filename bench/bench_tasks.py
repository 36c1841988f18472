"""Background jobs: erlen-tasks against Dramatiq used directly and against Celery, on one Redis.

Each contender enqueues N jobs one at a time and a worker of its own (a
separate process: one process, four threads) runs them; a sample is N divided
by the time from the first enqueue to the last job's end. Every job does the
same work, an ``INCR`` of a Redis key, by which the benchmark sees the jobs
end. The contenders:

``dramatiq``
    ``actor.send(i)`` on Dramatiq's RedisBroker; the worker is ``dramatiq
    MODULE -p 1 -t 4``.
``erlen-tasks``
    ``the_job.enqueue(i)`` and a commit per job on an SQLite file, the
    enqueuing process handing each job to the same RedisBroker at the commit
    (``TASKS_HANDOFF``), the worker ``erlen tasks worker --threads 4`` (which
    runs the relay, idle here, and keeps every job's row up to date).
``celery``
    ``task.delay(i)`` with ``task_acks_late`` (acknowledged after the job, as
    the other two); the worker ``celery worker --pool threads -c 4``.

Two variants. ``jobs_redis``: each job enqueued on its own, erlen-tasks
with a transaction and a commit of its own per job. The work is unequal:
Dramatiq's ``send`` is one Redis call, erlen-tasks writes and commits an
outbox row (an fsync) before its Redis call, the cost of the transactional
outbox itself, so this ratio is reported without a target.
``jobs_redis_in_request``: each job enqueued by a request that writes a row
and commits anyway, Dramatiq and Celery sending after that commit, the
erlen-tasks job riding in it: the same transactions on both sides, what
erlen-tasks adds is its own cost. Target, on this one: erlen-tasks / dramatiq
>= 0.9 (at most 10% overhead). Redis is
``ERLEN_BENCH_REDIS_URL`` (``redis://127.0.0.1:6379/0`` by default); keys and
queues are the run's own and deleted afterwards. Without Redis, Dramatiq,
Celery or erlen-tasks the suite is skipped with the reason.

Wall-clock rates on a shared machine follow its load more than the code, so
each sample also records the CPU time per job on both sides, which load
changes much less: the enqueuing process's (``time.process_time()``, all its
threads: erlen-tasks' hand-off marks included) and the worker's (its process
and children, from ``/proc``, over the sample: its idle polling included).
Their medians are shown beside the rates, and the load averages around each
variant's rounds: above ``harness.LOAD_PER_CPU_LIMIT`` per CPU the target is
not judged (the table says so); ``cpu_tasks.py --instructions`` then gives
figures load does not move. Each contender runs with its default settings:
erlen-tasks' relay (idle here, the hand-off sends every job) polls at its
default pace.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import typing as t
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import harness
from harness import BenchError, Result

REDIS_URL = os.environ.get("ERLEN_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

TITLE = "jobs/s: enqueue N jobs one at a time, a 4-thread worker process runs them (Redis)"
TITLE_REQUEST = "jobs/s: the same, each job enqueued by a request's transaction (an INSERT and a commit)"


@dataclass(frozen=True)
class Plan:
    jobs: int
    rounds: int
    max_seconds: float


FULL = Plan(jobs=500, rounds=9, max_seconds=900.0)
QUICK = Plan(jobs=100, rounds=1, max_seconds=120.0)

DRAMATIQ_MODULE = """
import os, dramatiq, redis
from dramatiq.brokers.redis import RedisBroker
broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"])
dramatiq.set_broker(broker)
counter = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
KEY = os.environ["BENCH_KEY"]

@dramatiq.actor(queue_name=os.environ["BENCH_QUEUE"], max_retries=3)
def bench_job(i: int) -> None:
    counter.incr(KEY)
"""

ERLEN_MODULE = """
import os, redis, erlen
from erlen_tasks import job

PLUGIN = erlen.Plugin(name="bt_erlen", requires=["db", "tasks"])
counter = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
KEY = os.environ["BENCH_KEY"]

@job(name="bench.job", retries=3)
def bench_job(i: int) -> None:
    counter.incr(KEY)

@erlen.hookimpl
def erlen_tasks_jobs():
    return [bench_job]

def create():
    return erlen.create_app("bt_erlen", {"PLUGINS": ["db", "tasks", "bt_erlen"], "SECRET_KEY": "bench-not-secret"})
"""

CELERY_MODULE = """
import os, redis
from celery import Celery
app = Celery("bt_celery", broker=os.environ["BENCH_REDIS_URL"])
app.conf.update(task_acks_late=True, task_default_queue=os.environ["BENCH_QUEUE"], worker_hijack_root_logger=False,
                broker_connection_retry_on_startup=True)
counter = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
KEY = os.environ["BENCH_KEY"]

@app.task
def bench_job(i: int) -> None:
    counter.incr(KEY)
"""


def dramatiq_worker_argv(python: str) -> list[str]:
    """Dramatiq's worker of the benchmark: one process, four threads."""
    return [python, "-m", "dramatiq", "bt_dramatiq", "-p", "1", "-t", "4"]


def erlen_worker_argv(python: str) -> list[str]:
    """erlen-tasks' worker of the benchmark: four threads, no scheduler (no periodic jobs to run)."""
    return [python, "-m", "erlen", "--app", "bt_erlen:create", "tasks", "worker", "--threads", "4", "--no-scheduler"]


def _redis_reachable() -> str | None:
    import sqlalchemy as sa

    url = sa.make_url(REDIS_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 6379), timeout=1.0):
            return None
    except OSError as exc:
        return f"Redis not reachable at {REDIS_URL} ({exc}); set ERLEN_BENCH_REDIS_URL"


@contextlib.contextmanager
def worker(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A worker process for the block, stopped (SIGTERM, then SIGKILL) after it."""
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its live child processes (all their threads)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            fields = _stat(current)
            total += (int(fields[11]) + int(fields[12])) / TICKS
        pending.extend(children.get(current, []))
    return total


@dataclass
class CpuRecord:
    """CPU microseconds per job of each sample, by contender: the enqueuing side and the worker's."""

    enqueue: dict[str, list[float]] = field(default_factory=dict)
    worker: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, enqueue_seconds: float, worker_seconds: float, jobs: int) -> None:
        """Record one sample of ``name``: CPU seconds of each side over ``jobs`` jobs."""
        self.enqueue.setdefault(name, []).append(enqueue_seconds / jobs * 1e6)
        self.worker.setdefault(name, []).append(worker_seconds / jobs * 1e6)

    def summary(self) -> dict[str, str]:
        """The median CPU per job of each contender, both sides, for the table."""
        return {
            f"CPU us/job {name}": (
                f"enqueue {statistics.median(self.enqueue[name]):.0f}, "
                f"worker {statistics.median(self.worker[name]):.0f}"
            )
            for name in self.enqueue
        }


def wait_count(
    client: t.Any, key: str, expected: int, *, timeout: float, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while int(client.get(key) or 0) < expected:
        if process.poll() is not None:
            raise BenchError(f"the worker exited ({process.returncode}); its log:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise BenchError(f"{expected} jobs did not run within {timeout}s; log:\n{log.read_text()[-3000:]}")
        time.sleep(0.002)


def sampler(
    enqueue: Callable[[int], None],
    client: t.Any,
    key: str,
    jobs: int,
    process: subprocess.Popen[bytes],
    log: Path,
    *,
    name: str = "",
    cpu: CpuRecord | None = None,
) -> Callable[[], float]:
    """One sample: jobs/s from the first enqueue to the last job's end.

    :param cpu: where to record the sample's CPU per job on both sides, under ``name``.
    """

    def sample() -> float:
        client.set(key, 0)
        worker_start = process_cpu(process.pid)
        cpu_start = time.process_time()
        started = time.perf_counter()
        for index in range(jobs):
            enqueue(index)
        enqueue_cpu = time.process_time() - cpu_start
        wait_count(client, key, jobs, timeout=300.0, process=process, log=log)
        elapsed = time.perf_counter() - started
        if cpu is not None:
            cpu.add(name, enqueue_cpu, process_cpu(process.pid) - worker_start, jobs)
        return jobs / elapsed

    return sample


def run(quick: bool) -> list[Result]:
    """Run the jobs benchmark; ``quick`` runs one round of 100 jobs per contender."""
    plan = QUICK if quick else FULL
    absent = harness.missing(
        [("dramatiq", "dramatiq"), ("celery", "celery"), ("erlen_tasks", "erlen-tasks"), ("redis", "redis")]
    )
    if absent:
        return [harness.skipped(name="jobs_redis", title=TITLE, reason=harness.not_installed(absent))]
    reason = _redis_reachable()
    if reason:
        return [harness.skipped(name="jobs_redis", title=TITLE, reason=reason)]
    return harness.with_plan(bench_jobs(plan), plan)


def bench_jobs(plan: Plan) -> list[Result]:
    import redis

    run_id = uuid.uuid4().hex[:10]
    client = redis.Redis.from_url(REDIS_URL)
    with tempfile.TemporaryDirectory(prefix="erlen-bench-tasks-") as folder:
        root = Path(folder)
        for name, source in (
            ("bt_dramatiq", DRAMATIQ_MODULE),
            ("bt_erlen", ERLEN_MODULE),
            ("bt_celery", CELERY_MODULE),
        ):
            (root / f"{name}.py").write_text(textwrap.dedent(source))
        sys.path.insert(0, str(root))
        base = harness.clean_env(PYTHONPATH=str(root), BENCH_REDIS_URL=REDIS_URL)
        envs = {
            name: {
                **base,
                "BENCH_KEY": f"erlen-bench-{run_id}-{name}-count",
                "BENCH_QUEUE": f"erlen-bench-{run_id}-{name}",
            }
            for name in ("dramatiq", "erlen-tasks", "celery")
        }
        envs["erlen-tasks"].update(
            ERLEN_DB_URL=f"sqlite:///{root / 'app.sqlite3'}",
            ERLEN_TASKS_BROKER="redis",
            ERLEN_TASKS_URL=REDIS_URL,
            ERLEN_TASKS_QUEUE_PREFIX=f"erlen-bench-{run_id}-",
        )
        try:
            return _measure(plan, root, envs, client)
        finally:
            sys.path.remove(str(root))
            for module in ("bt_dramatiq", "bt_erlen", "bt_celery"):
                sys.modules.pop(module, None)
            for key in client.scan_iter(match=f"*erlen-bench-{run_id}*"):
                client.delete(key)
            client.close()


def _measure(plan: Plan, root: Path, envs: dict[str, dict[str, str]], client: t.Any) -> list[Result]:
    import sqlalchemy as sa

    import erlen_db

    python = sys.executable
    with contextlib.ExitStack() as stack:
        # Dramatiq used directly.
        previous = dict(os.environ)
        os.environ.update(envs["dramatiq"])
        import bt_dramatiq  # type: ignore[import-not-found]

        os.environ.update(envs["celery"])
        import bt_celery  # type: ignore[import-not-found]

        os.environ.clear()
        os.environ.update(previous)
        for name, value in envs["erlen-tasks"].items():
            if name.startswith("ERLEN_") or name.startswith("BENCH_"):
                os.environ[name] = value
        try:
            import bt_erlen  # type: ignore[import-not-found]

            app = bt_erlen.create()
        finally:
            os.environ.clear()
            os.environ.update(previous)
        erlen_db.database_of(app).create_all()
        with erlen_db.database_of(app).engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE bench_requests (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        write = sa.text("INSERT INTO bench_requests (n) VALUES (:n)")

        logs = {name: root / f"{name}.log" for name in envs}
        dramatiq_worker = stack.enter_context(
            worker(
                dramatiq_worker_argv(python),
                cwd=root,
                env=envs["dramatiq"],
                log=logs["dramatiq"],
            )
        )
        erlen_worker = stack.enter_context(
            worker(
                erlen_worker_argv(python),
                cwd=root,
                env=envs["erlen-tasks"],
                log=logs["erlen-tasks"],
            )
        )
        celery_worker = stack.enter_context(
            worker(
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "bt_celery",
                    "worker",
                    "--pool",
                    "threads",
                    "-c",
                    "4",
                    "-Q",
                    envs["celery"]["BENCH_QUEUE"],
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-l",
                    "warning",
                ],
                cwd=root,
                env=envs["celery"],
                log=logs["celery"],
            )
        )

        def erlen_enqueue(index: int) -> None:
            with app.app_context():
                bt_erlen.bench_job.enqueue(index)
                erlen_db.session.commit()

        def in_request(send: Callable[[int], object]) -> Callable[[int], None]:
            """A request's transaction (one INSERT, one commit), then the job handed to the broker."""

            def enqueue(index: int) -> None:
                with app.app_context():
                    erlen_db.session.execute(write, {"n": index})
                    erlen_db.session.commit()
                send(index)

            return enqueue

        def erlen_in_request(index: int) -> None:
            with app.app_context():
                erlen_db.session.execute(write, {"n": index})
                bt_erlen.bench_job.enqueue(index)  # rides in the request's own commit
                erlen_db.session.commit()

        contenders = {
            "dramatiq": (bt_dramatiq.bench_job.send, dramatiq_worker),
            "erlen-tasks": (erlen_enqueue, erlen_worker),
            "celery": (bt_celery.bench_job.delay, celery_worker),
        }
        in_requests = {
            "dramatiq": (in_request(bt_dramatiq.bench_job.send), dramatiq_worker),
            "erlen-tasks": (erlen_in_request, erlen_worker),
            "celery": (in_request(bt_celery.bench_job.delay), celery_worker),
        }
        results = []
        for variant, chosen in (("bare", contenders), ("request", in_requests)):
            cpu = CpuRecord()
            load_before = harness.load_average()
            samples = harness.alternate(
                {
                    name: sampler(
                        enqueue,
                        client,
                        envs[name]["BENCH_KEY"],
                        plan.jobs,
                        process,
                        logs[name],
                        name=name,
                        cpu=cpu,
                    )
                    for name, (enqueue, process) in chosen.items()
                },
                rounds=plan.rounds,
                max_seconds=plan.max_seconds,
            )
            load_after = harness.load_average()
            # The warm-up samples recorded CPU too: drop them (each contender's first).
            for figures in (cpu.enqueue, cpu.worker):
                for values in figures.values():
                    del values[0]
            result = harness.compare(
                name="jobs_redis" if variant == "bare" else "jobs_redis_in_request",
                title=TITLE if variant == "bare" else TITLE_REQUEST,
                unit="jobs/s",
                samples=samples,
                baseline="dramatiq",
                subject="erlen-tasks",
                higher_is_better=True,
                # Only where both sides do the same transactions (see the module's docstring).
                target=harness.Target(">=", 0.9) if variant == "request" else None,
                notes=[
                    f"{plan.jobs} jobs per sample; each job INCRs a Redis key; workers: 1 process, 4 threads",
                    "erlen-tasks: the job's row committed in the enqueuing transaction (SQLite file), handed to "
                    "Redis by the enqueuing process at the commit, its row kept up to date by the worker",
                    "celery: task_acks_late=True",
                    "CPU us/job: median per sample; enqueue = the enqueuing process (all its threads), worker = "
                    "the worker process over the sample (idle polling included); load averages: "
                    f"{load_before:.1f} before, {load_after:.1f} after",
                ]
                + (
                    ["each enqueue in a request's transaction (INSERT + commit); others send after the commit"]
                    if variant == "request"
                    else [
                        "no target: unequal work, erlen-tasks writes and commits a row per job (the outbox's own "
                        "cost) where dramatiq and celery write nothing; the target applies to the request variant"
                    ]
                ),
                extra=cpu.summary(),
            )
            results.append(harness.judged(result, [load_before, load_after]))
        bt_dramatiq.broker.close()
        erlen_db.database_of(app).dispose()
    return results
