"""CPU time per job of erlen-tasks and of Dramatiq, both sides: ``python bench/cpu_tasks.py [--jobs N]``.

The throughput of ``bench_tasks.py`` is wall-clock time on a shared machine;
this measures what each job costs in process CPU time instead, which load
from other processes does not change: the enqueuing process's CPU per job
(``time.process_time()`` around the enqueue loop, the ``jobs_redis_in_request``
variant: an INSERT, the job, a commit) and the worker's (the worker process's
user + system time from ``/proc/PID/stat``, all its threads, over the run and
until its last records are written, minus its idle cost over as long).
``--profile-enqueue FILE`` writes a cProfile of the enqueue loop;
``--py-spy FILE`` records the erlen-tasks worker with py-spy (if installed)
while it runs the jobs. ``--instructions N`` counts, under valgrind's
callgrind, the instructions per enqueue of both contenders (N enqueues each,
in one process, the jobs handed to Redis, no worker): the figure load does not
move at all, for comparing two builds. ``--worker-instructions N`` counts the
workers' side the same way: instructions per job run by each contender's worker
(N jobs enqueued while it is paused, then run), and per idle pass of erlen-tasks'
relay; see bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import typing as t
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import bench_tasks  # noqa: E402 - needs BENCH_DIR on sys.path
import harness  # noqa: E402

#: The CPU time of a process and its children, as bench_tasks.py measures it.
process_cpu = bench_tasks.process_cpu


@contextlib.contextmanager
def started(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with bench_tasks.worker(argv, cwd=cwd, env=env, log=log) as process:
        yield process


def measure(
    name: str,
    enqueue: Callable[[int], None],
    client: t.Any,
    key: str,
    process: subprocess.Popen[bytes],
    log: Path,
    jobs: int,
    settle: float,
    profile: str | None,
    spy: str | None,
) -> dict[str, float]:
    """Enqueue ``jobs`` jobs; the CPU per job on both sides, in microseconds."""
    # Warm up: the first jobs import and connect.
    client.set(key, 0)
    for index in range(20):
        enqueue(index)
    bench_tasks.wait_count(client, key, 20, timeout=120.0, process=process, log=log)
    time.sleep(settle)
    # The worker's idle cost (its polling) over ``settle`` seconds.
    idle_start = process_cpu(process.pid)
    time.sleep(settle)
    idle_rate = (process_cpu(process.pid) - idle_start) / settle
    client.set(key, 0)
    spy_process = None
    if spy:
        spy_process = subprocess.Popen(
            [
                shutil.which("py-spy") or "py-spy",
                "record",
                "-p",
                str(process.pid),
                "-o",
                spy,
                "-f",
                "speedscope",
                "-r",
                "200",
                "--nonblocking",
                "--gil",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)
    worker_start = process_cpu(process.pid)
    wall_start = time.monotonic()
    profiler = cProfile.Profile(time.process_time) if profile else None
    cpu_start = time.process_time()
    if profiler:
        profiler.enable()
    for index in range(jobs):
        enqueue(index)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)  # type: ignore[arg-type]
    enqueue_cpu = time.process_time() - cpu_start
    bench_tasks.wait_count(client, key, jobs, timeout=300.0, process=process, log=log)
    wall = time.monotonic() - wall_start
    time.sleep(settle)  # the worker's last records (erlen-tasks writes them every second)
    elapsed = time.monotonic() - wall_start
    worker_cpu = process_cpu(process.pid) - worker_start - idle_rate * elapsed
    if spy_process is not None:
        spy_process.send_signal(2)
        spy_process.wait(timeout=60)
    return {
        "enqueue_us": enqueue_cpu / jobs * 1e6,
        "worker_us": worker_cpu / jobs * 1e6,
        "idle_cpu_per_s": idle_rate,
        "jobs_per_s_wall": jobs / wall,
    }


@dataclass
class Setup:
    """The two contenders of one run, set up in this process: their apps, modules and enqueue functions."""

    root: Path
    run_id: str
    envs: dict[str, dict[str, str]]
    app: t.Any
    database: t.Any
    dramatiq_module: t.Any
    #: Contender name to one enqueue of the ``jobs_redis_in_request`` variant (an INSERT, the job, a commit).
    enqueues: dict[str, Callable[[int], None]]

    def close(self, client: t.Any) -> None:
        """Write erlen-tasks' waiting hand-off marks, close both brokers, delete the run's Redis keys."""
        import erlen_tasks

        sys.path.remove(str(self.root))
        erlen_tasks.state_of(self.app).close()
        self.dramatiq_module.broker.close()
        self.database.dispose()
        for found in client.scan_iter(match=f"*erlen-cpu-{self.run_id}*"):
            client.delete(found)


def prepare(root: Path, run_id: str) -> Setup:
    """Write the benchmark's modules in ``root``, import them and make erlen-tasks' app on an SQLite file there.

    :param root: an empty folder of the run.
    :param run_id: names the run's Redis keys and queues.
    """
    import sqlalchemy as sa

    import erlen_db

    for module, source in (("bt_dramatiq", bench_tasks.DRAMATIQ_MODULE), ("bt_erlen", bench_tasks.ERLEN_MODULE)):
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    sys.path.insert(0, str(root))
    base = harness.clean_env(PYTHONPATH=str(root), BENCH_REDIS_URL=bench_tasks.REDIS_URL)
    envs = {
        name: {**base, "BENCH_KEY": f"erlen-cpu-{run_id}-{name}", "BENCH_QUEUE": f"erlen-cpu-{run_id}-{name}"}
        for name in ("dramatiq", "erlen-tasks")
    }
    envs["erlen-tasks"].update(
        ERLEN_DB_URL=f"sqlite:///{root / 'app.sqlite3'}",
        ERLEN_TASKS_BROKER="redis",
        ERLEN_TASKS_URL=bench_tasks.REDIS_URL,
        ERLEN_TASKS_QUEUE_PREFIX=f"erlen-cpu-{run_id}-",
    )
    previous = dict(os.environ)
    try:
        os.environ.update(envs["dramatiq"])
        import bt_dramatiq  # type: ignore[import-not-found]

        os.environ.clear()
        os.environ.update(previous)
        os.environ.update({k: v for k, v in envs["erlen-tasks"].items() if k.startswith(("ERLEN_", "BENCH_"))})
        import bt_erlen  # type: ignore[import-not-found]

        app = bt_erlen.create()
    finally:
        os.environ.clear()
        os.environ.update(previous)
    database = erlen_db.database_of(app)
    database.create_all()
    with database.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE bench_requests (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
    write = sa.text("INSERT INTO bench_requests (n) VALUES (:n)")

    def dramatiq_in_request(index: int) -> None:
        with app.app_context():
            erlen_db.session.execute(write, {"n": index})
            erlen_db.session.commit()
        bt_dramatiq.bench_job.send(index)

    def erlen_in_request(index: int) -> None:
        with app.app_context():
            erlen_db.session.execute(write, {"n": index})
            bt_erlen.bench_job.enqueue(index)
            erlen_db.session.commit()

    return Setup(
        root=root,
        run_id=run_id,
        envs=envs,
        app=app,
        database=database,
        dramatiq_module=bt_dramatiq,
        enqueues={"dramatiq": dramatiq_in_request, "erlen-tasks": erlen_in_request},
    )


#: Enqueues of each contender run before the counted ones (imports, connections, caches).
COUNT_WARM_UP = 50


def drive_count(folder: Path, jobs: int) -> None:
    """The process :func:`count_instructions` runs under callgrind: ``jobs`` enqueues of each contender.

    Parts (ended by :func:`harness.mark`): set-up; warm-up; then for each contender the garbage
    collection before it and its ``jobs`` (erlen-tasks' with the hand-off's marks written at the end:
    its thread's work belongs to the enqueues); the exit.
    """
    import gc

    import redis

    import erlen_tasks
    import erlen_tasks.handoff

    # The hand-off's marking thread writes every FLUSH_SECONDS of wall-clock time: under callgrind, many
    # times slower, it would write a batch every few jobs, and the count would follow the machine's load.
    # It waits here; the counted part ends with one batch of marks, as at a few hundred jobs a second.
    erlen_tasks.handoff.FLUSH_SECONDS = 3600.0
    client = redis.Redis.from_url(bench_tasks.REDIS_URL)
    setup = prepare(folder, uuid.uuid4().hex[:10])
    try:
        for enqueue in setup.enqueues.values():
            for index in range(COUNT_WARM_UP):
                enqueue(index)
        erlen_tasks.state_of(setup.app).handoff.flush()
        harness.start_instrumentation()
        gc.collect()
        harness.mark()  # part 1 ends: set-up (uninstrumented with the starter library)
        gc.collect()
        harness.mark()  # part 2 ends
        for name in ("dramatiq", "erlen-tasks"):
            enqueue = setup.enqueues[name]
            gc.collect()
            gc.disable()
            harness.mark()  # ends the part before this contender
            for index in range(jobs):
                enqueue(index)
            if name == "erlen-tasks":
                erlen_tasks.state_of(setup.app).handoff.flush()  # the marks of its hand-offs
            # Ends this contender's part here: the next one's gc.collect() (some 34 million instructions,
            # 170,000 a job at 200 jobs) belongs to neither.
            harness.mark()
            gc.enable()
    finally:
        setup.close(client)
        client.close()


def count_instructions(jobs: int) -> dict[str, float]:
    """Instructions per enqueue of each contender (``jobs_redis_in_request``), counted by callgrind.

    :param jobs: enqueues counted per contender.
    """
    with tempfile.TemporaryDirectory(prefix="erlen-cpu-tasks-count-") as name:
        folder = Path(name)
        env = dict(os.environ)
        starter = harness.instrumentation_starter(folder)
        if starter is not None:
            env["ERLEN_BENCH_CALLGRIND_STARTER"] = str(starter)
        run = folder / "run"
        run.mkdir()
        parts = harness.instructions_by_part(
            [sys.executable, str(Path(__file__).resolve()), "--drive-count", str(run), str(jobs)],
            marks=6,
            cwd=folder,
            env=env,
            timeout=3600,
            valgrind_options=["--instr-atstart=no"] if starter is not None else [],
        )
    # parts: [the instrumentation's start to the first mark, the gc pass, the gc pass before dramatiq, dramatiq,
    # the gc pass before erlen-tasks, erlen-tasks, exit]
    return {"dramatiq": parts[3] / jobs, "erlen-tasks": parts[5] / jobs}


#: Jobs each worker runs before the counted ones (imports, connections, caches, the first records).
WORKER_WARM_UP = 50

#: The contenders of ``--worker-instructions``, in the order they run.
WORKER_CONTENDERS = ("dramatiq", "erlen-tasks")

#: Idle passes of erlen-tasks' relay counted after its worker's jobs (the relay polls every 0.5 s by default).
RELAY_PASSES = 20


def _finished_runs() -> t.Any:
    """A Dramatiq middleware counting finished runs, its event set once ``target`` is reached.

    The same on both contenders' brokers, so that the driver waits without polling (a polling loop's
    instructions would follow the wall-clock time, which callgrind stretches).
    """
    import threading

    from dramatiq.middleware import Middleware

    class FinishedRuns(Middleware):  # type: ignore[misc]
        def __init__(self) -> None:
            self.count = 0
            self.target = 0
            self.reached = threading.Event()
            self.lock = threading.Lock()

        def expect(self, target: int) -> None:
            with self.lock:
                self.target = target
                self.reached.clear()
                if self.count >= target:
                    self.reached.set()

        def _finished(self) -> None:
            with self.lock:
                self.count += 1
                if self.count >= self.target:
                    self.reached.set()

        def after_process_message(
            self, broker: t.Any, message: t.Any, *, result: t.Any = None, exception: BaseException | None = None
        ) -> None:
            self._finished()

        def after_skip_message(self, broker: t.Any, message: t.Any) -> None:
            self._finished()

    return FinishedRuns()


def _wait_runs(finished: t.Any, target: int) -> None:
    """Wait (without polling) until ``finished`` has counted ``target`` runs in all.

    :param finished: the middleware of :func:`_finished_runs`.
    :param target: the runs to wait for, the warm-up's included.
    :raises harness.BenchError: not within 30 minutes.
    """
    finished.expect(target)
    if not finished.reached.wait(timeout=1800.0):
        raise harness.BenchError(f"the worker ran {finished.count} of {target} jobs within 30 minutes")


def drive_worker(contender: str, folder: Path, jobs: int) -> None:
    """The process :func:`count_worker_instructions` runs under callgrind: ``contender``'s worker runs ``jobs`` jobs.

    The worker (4 threads, in this process, as ``bench_tasks.py``'s: erlen-tasks' made by
    :func:`erlen_tasks.worker.start_worker` with its progress lines, without the relay and the scheduler)
    runs :data:`WORKER_WARM_UP` jobs, is paused while ``jobs`` more are enqueued (uncounted), and resumes
    once callgrind counts. Parts (ended by :func:`harness.mark`): the instrumentation's start; the
    ``jobs`` runs (erlen-tasks' with its records of them written at the end: its tracking thread's
    work belongs to the runs); erlen-tasks' relay, :data:`RELAY_PASSES` idle passes (nothing for
    Dramatiq); the exit.
    """
    import gc
    import threading

    import dramatiq

    import erlen_tasks
    import erlen_tasks.brokers.tracking
    import erlen_tasks.handoff

    # The threads writing every second of wall-clock time (the hand-off's marks, the runs' records): under
    # callgrind they would write a batch every few jobs, and the count would follow the machine's load.
    # They wait; each counted part ends with one batch, as at a few hundred jobs a second.
    erlen_tasks.handoff.FLUSH_SECONDS = 3600.0
    erlen_tasks.brokers.tracking.FLUSH_SECONDS = 3600.0
    setup = prepare(folder, uuid.uuid4().hex[:10])
    finished = _finished_runs()
    tracking: t.Any = None
    relay: t.Any = None
    if contender == "dramatiq":
        broker = setup.dramatiq_module.broker
        broker.add_middleware(finished)
        queue = setup.envs["dramatiq"]["BENCH_QUEUE"]
        worker = dramatiq.Worker(broker, queues={queue}, worker_threads=4, worker_timeout=1000)
        broker.emit_after("process_boot")  # as Dramatiq's command does
        worker.start()

        def stop() -> None:
            worker.stop()

    else:
        from erlen_tasks.brokers import Tracking
        from erlen_tasks.cli import _ProgressLines, progress_reporter
        from erlen_tasks.relay import Relay
        from erlen_tasks.worker import WorkerOptions, start_worker

        lines = _ProgressLines()
        lines.start()
        started = start_worker(
            setup.app,
            threading.Event(),
            WorkerOptions(threads=4, relay=False, scheduler=False),
            report=progress_reporter(lines),
        )
        started.broker.add_middleware(finished)
        worker = started.worker
        tracking = next(m for m in started.broker.middleware if isinstance(m, Tracking))
        relay = Relay(setup.app, broker=started.broker)

        def stop() -> None:
            started.close(60.0)
            lines.close()

    enqueue = setup.enqueues[contender]
    try:
        for index in range(WORKER_WARM_UP):
            enqueue(index)
        _wait_runs(finished, WORKER_WARM_UP)
        if tracking is not None:
            tracking.flush()
            relay.relay_once()
        worker.pause()
        for index in range(jobs):
            enqueue(index)
        if contender == "erlen-tasks":
            erlen_tasks.state_of(setup.app).handoff.flush()  # the marks of the hand-offs: the enqueues' work
        harness.start_instrumentation()
        gc.collect()
        gc.disable()
        harness.mark()  # part 1 ends: the instrumentation's start (set-up uninstrumented with the starter)
        worker.resume()
        _wait_runs(finished, WORKER_WARM_UP + jobs)
        if tracking is not None:
            tracking.flush()  # the records of the counted runs, one batch
        harness.mark()  # part 2 ends: the runs
        if relay is not None:
            for _ in range(RELAY_PASSES):
                relay.relay_once()
        harness.mark()  # part 3 ends: the relay's idle passes
        gc.enable()
    finally:
        stop()
        import redis

        client = redis.Redis.from_url(bench_tasks.REDIS_URL)
        setup.close(client)
        client.close()


def count_worker_instructions(jobs: int) -> dict[str, float]:
    """Instructions per job run by each contender's worker, and per idle pass of erlen-tasks' relay (callgrind).

    :param jobs: jobs counted per contender.
    """
    counts: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="erlen-cpu-tasks-worker-") as name:
        folder = Path(name)
        env = dict(os.environ)
        starter = harness.instrumentation_starter(folder)
        if starter is not None:
            env["ERLEN_BENCH_CALLGRIND_STARTER"] = str(starter)
        for contender in WORKER_CONTENDERS:
            run = folder / contender
            run.mkdir()
            parts = harness.instructions_by_part(
                [sys.executable, str(Path(__file__).resolve()), "--drive-worker", contender, str(run), str(jobs)],
                marks=3,
                cwd=folder,
                env=env,
                timeout=3600,
                valgrind_options=["--instr-atstart=no"] if starter is not None else [],
            )
            # parts: [the instrumentation's start, the runs, the relay's passes, exit]
            counts[contender] = parts[1] / jobs
            if contender == "erlen-tasks":
                counts["relay-pass"] = parts[2] / RELAY_PASSES
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--settle", type=float, default=2.5, help="seconds to wait for the workers' last writes")
    parser.add_argument("--only", choices=["dramatiq", "erlen-tasks"], default=None)
    parser.add_argument("--profile-enqueue", default=None, help="cProfile of erlen-tasks' enqueue loop to this file")
    parser.add_argument("--py-spy", default=None, help="py-spy speedscope profile of the erlen-tasks worker")
    parser.add_argument(
        "--instructions",
        type=int,
        default=None,
        metavar="N",
        help="count instructions per enqueue of both contenders under callgrind (N enqueues each), then exit",
    )
    parser.add_argument(
        "--worker-instructions",
        type=int,
        default=None,
        metavar="N",
        help="count instructions per job run by each contender's worker under callgrind (N jobs each), then exit",
    )
    parser.add_argument("--drive-count", nargs=2, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--drive-worker", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive_count:
        drive_count(Path(args.drive_count[0]), int(args.drive_count[1]))
        return
    if args.drive_worker:
        drive_worker(args.drive_worker[0], Path(args.drive_worker[1]), int(args.drive_worker[2]))
        return
    if args.worker_instructions:
        counts = count_worker_instructions(args.worker_instructions)
        for name in WORKER_CONTENDERS:
            print(
                f"{name:12} worker {counts[name]:10,.0f} instructions/job (callgrind, {args.worker_instructions} jobs)"
            )
        print(f"erlen-tasks - dramatiq: {counts['erlen-tasks'] - counts['dramatiq']:,.0f} instructions/job")
        print(f"erlen-tasks relay, idle: {counts['relay-pass']:,.0f} instructions/pass (2 passes/s by default)")
        return
    if args.instructions:
        counts = count_instructions(args.instructions)
        for name, figure in counts.items():
            print(f"{name:12} enqueue {figure:10,.0f} instructions/job (callgrind, {args.instructions} jobs)")
        print(f"erlen-tasks - dramatiq: {counts['erlen-tasks'] - counts['dramatiq']:,.0f} instructions/job")
        return
    import redis
    import sqlalchemy as sa

    client = redis.Redis.from_url(bench_tasks.REDIS_URL)
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="erlen-cpu-tasks-") as folder:
        setup = prepare(Path(folder), uuid.uuid4().hex[:10])
        root, envs = setup.root, setup.envs
        argvs = {
            "dramatiq": bench_tasks.dramatiq_worker_argv(python),
            "erlen-tasks": bench_tasks.erlen_worker_argv(python),
        }
        try:
            for name in ("dramatiq", "erlen-tasks"):
                if args.only and name != args.only:
                    continue
                log = root / f"{name}.log"
                with started(argvs[name], root, envs[name], log) as process:
                    figures = measure(
                        name,
                        setup.enqueues[name],
                        client,
                        envs[name]["BENCH_KEY"],
                        process,
                        log,
                        args.jobs,
                        args.settle,
                        args.profile_enqueue if name == "erlen-tasks" else None,
                        args.py_spy if name == "erlen-tasks" else None,
                    )
                print(
                    f"{name:12} enqueue {figures['enqueue_us']:8.1f} us CPU/job   worker {figures['worker_us']:8.1f} "
                    f"us CPU/job   (worker idle {figures['idle_cpu_per_s'] * 100:.1f}% CPU; "
                    f"{figures['jobs_per_s_wall']:.0f} jobs/s wall)",
                    flush=True,
                )
            if not args.only:
                with setup.database.engine.connect() as connection:
                    rows = connection.execute(sa.text("SELECT status, count(*) FROM tasks_jobs GROUP BY status")).all()
                print("erlen-tasks rows:", dict(rows))
        finally:
            setup.close(client)
            client.close()
        print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
