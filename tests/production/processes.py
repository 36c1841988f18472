"""The processes of the deployment the suite starts: gunicorn and the background (mail or tasks) workers.

Each runs in a session (a process group) of its own, writes to a log file in
the suite's temporary folder, and is ended by its process id: SIGTERM, then
SIGKILL to the whole group when it does not stop in time. Nothing here looks
at processes the suite did not start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def wait_until(
    condition: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str = "the condition"
) -> float:
    """Call ``condition`` until it returns true; raise :class:`TimeoutError` after ``timeout`` seconds.

    :param condition: checked at once, then every ``interval`` seconds.
    :param timeout: the longest wait, in seconds.
    :param interval: seconds between two checks.
    :param what: named in the error.
    :returns: the seconds waited.
    """
    started = time.monotonic()
    deadline = started + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not hold within {timeout:g} s")
        time.sleep(interval)
    return time.monotonic() - started


def children_of(pid: int) -> list[int]:
    """The process ids whose parent is ``pid`` (read from ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


class ManagedProcess:
    """A child process in a process group of its own, with its output in ``log_path``.

    :param name: named in messages.
    :param command: the program and its arguments.
    :param environ: its whole environment.
    :param directory: its working directory; the log file goes there too.
    """

    def __init__(self, name: str, command: Sequence[str], environ: Mapping[str, str], directory: Path) -> None:
        self.name = name
        self.command = list(command)
        self.environ = dict(environ)
        self.directory = directory
        self.log_path = directory / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (its log is appended to)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.environ,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own: ended as a whole, never by name
            )

    @property
    def pid(self) -> int:
        """The process id; the process must have been started."""
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.process.pid

    @property
    def running(self) -> bool:
        """Whether the process runs."""
        return self.process is not None and self.process.poll() is None

    def log(self, since: int = 0) -> str:
        """The log from byte ``since`` on."""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(since)
                return fh.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        """The log's current length in bytes, to read only what comes after it later."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def kill(self) -> None:
        """SIGKILL the process alone (not its group), as a crash would, and reap it."""
        if self.running and self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, *, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL to the whole group after ``timeout`` seconds; safe to call twice.

        :param timeout: seconds to wait for a clean exit.
        """
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=timeout)
        # Whatever is left of the group (a worker whose master died first) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


class Gunicorn(ManagedProcess):
    """gunicorn serving ``notes_app:create_app()`` on 127.0.0.1 with ``workers`` sync workers.

    :param port: the loopback port to bind.
    :param workers: the number of worker processes.
    """

    def __init__(self, environ: Mapping[str, str], directory: Path, *, port: int, workers: int) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            "--access-logfile",
            "-",
            "--access-logformat",
            '%(h)s "%(r)s" %(s)s %(M)sms pid=%(p)s',
            "notes_app:create_app()",
        ]
        super().__init__("gunicorn", command, environ, directory)
        self.port = port
        self.workers = workers

    def worker_pids(self) -> list[int]:
        """The process ids of the running workers."""
        return children_of(self.pid) if self.running else []

    def answers(self) -> bool:
        """Whether the log-in page answers 200 (it reads no database row)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/auth/login", timeout=5) as response:
                return int(response.status) == 200
        except (OSError, urllib.error.URLError):
            return False

    def wait_ready(self, *, timeout: float = 60.0) -> None:
        """Wait until every worker runs and the app answers; raise with the log's tail otherwise."""

        def ready() -> bool:
            if not self.running:
                raise RuntimeError(
                    f"gunicorn exited with status {self.process and self.process.returncode}:\n" + self.log()[-3000:]
                )
            return len(self.worker_pids()) == self.workers and self.answers()

        try:
            wait_until(ready, timeout=timeout, interval=0.1, what="gunicorn answering with every worker")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; its log ends:\n{self.log()[-3000:]}") from None


#: The background workers the deployment guide runs next to gunicorn: the command and the line it logs once
#: it runs. ``erlen mail worker`` delivers the outbox of an app without ``tasks``; ``erlen tasks worker`` runs
#: the jobs of an app with it, the outbox's delivery among them.
WORKER_KINDS = {
    "mail": (("mail", "worker"), "Mail outbox worker started"),
    "tasks": (("tasks", "worker"), "Worker started"),
}


class Worker(ManagedProcess):
    """``erlen --app notes_app mail worker`` or ``... tasks worker`` (:data:`WORKER_KINDS`).

    :param kind: ``mail`` or ``tasks``.
    :param number: told apart in the log file's name.
    """

    def __init__(self, environ: Mapping[str, str], directory: Path, *, kind: str, number: int) -> None:
        arguments, self.ready_line = WORKER_KINDS[kind]
        command = [sys.executable, "-m", "erlen", "--app", "notes_app", *arguments]
        super().__init__(f"{kind}-worker-{number}", command, environ, directory)
        self.kind = kind

    def wait_ready(self, *, timeout: float = 30.0) -> None:
        """Wait until the worker has said it started."""

        def started() -> bool:
            if not self.running:
                raise RuntimeError(f"the {self.kind} worker exited:\n{self.log()[-3000:]}")
            return self.ready_line in self.log()

        wait_until(started, timeout=timeout, interval=0.1, what=f"the {self.kind} worker starting")


def run_command(
    environ: Mapping[str, str], directory: Path, *args: str, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run ``erlen --app notes_app ARGS`` to its end, as an operator would; its output is captured.

    :param timeout: seconds before it is killed (a hung command fails the test, never the run).
    """
    return subprocess.run(
        [sys.executable, "-m", "erlen", "--app", "notes_app", *args],
        env=dict(environ),
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


__all__ = ["WORKER_KINDS", "Gunicorn", "ManagedProcess", "Worker", "children_of", "run_command", "wait_until"]
