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
move at all, for comparing two builds.
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
    parser.add_argument("--drive-count", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive_count:
        drive_count(Path(args.drive_count[0]), int(args.drive_count[1]))
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
