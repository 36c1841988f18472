"""A PostgreSQL server of a test's own, for tests that stop, kill or restart a database.

The shared test server (``ERLEN_TEST_POSTGRES_URL``) must never be stopped,
so a test that injects a database outage starts its own server with
:meth:`PostgresServer.start`: a fresh cluster in a temporary directory,
listening only on a free loopback port, with trust authentication and
``fsync`` off (its data is thrown away). The ``postgres_server`` fixture of
:mod:`erlen_db.testing` wraps it.

PostgreSQL refuses to run as root, so when the tests run as root (as CI does)
every server command runs as the ``postgres`` user through ``runuser``, and
the cluster lives in a directory of the system's temporary folder that user
owns (pytest's own temporary folders are private to root).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from erlen.testing import free_port, service_unavailable

#: Names a folder holding ``initdb``, ``pg_ctl`` and ``postgres`` when they are elsewhere.
BINDIR_VARIABLE = "ERLEN_TEST_POSTGRES_BINDIR"

#: The operating-system user the server runs as when the tests run as root.
SERVER_USER = "postgres"

#: How long starting or stopping the server may take before it counts as failed, in seconds.
PG_CTL_TIMEOUT = 60

_SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")

#: Freshly initialised clusters to copy, per (bindir, user): ``initdb`` takes
#: seconds, a copy a fraction of one. A cache of the test process, deleted when it exits.
_templates: dict[tuple[Path, str | None], Path] = {}


class PostgresServerError(RuntimeError):
    """A command controlling a :class:`PostgresServer` failed; the message holds its output and the log."""


def find_bindir() -> Path | None:
    """The folder of PostgreSQL's server programs, or ``None`` when they are not installed.

    Looks at ``ERLEN_TEST_POSTGRES_BINDIR``, then the newest
    ``/usr/lib/postgresql/<version>/bin`` (Debian and Ubuntu), then
    ``pg_config --bindir``, then the ``PATH``.
    """
    candidates: list[Path] = []
    if os.environ.get(BINDIR_VARIABLE):
        candidates.append(Path(os.environ[BINDIR_VARIABLE]))
    versioned = Path("/usr/lib/postgresql").glob("*/bin")
    candidates.extend(sorted(versioned, key=_version_key, reverse=True))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            output = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10)
            candidates.append(Path(output.stdout.strip()))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for folder in candidates:
        if all(os.access(folder / program, os.X_OK) for program in _SERVER_PROGRAMS):
            return folder
    return None


def _version_key(bindir: Path) -> tuple[int, ...]:
    """Sorts ``/usr/lib/postgresql/<version>/bin`` folders by version number (``9.6`` < ``15``)."""
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name)) or (0,)


def _process_state(pid: int) -> str | None:
    """The state letter of process ``pid`` (``"Z"`` for a zombie), or ``None`` once it is gone entirely."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:  # no /proc: ask the kernel instead
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return "?"
    # The state follows the command name, which is in parentheses and may hold spaces.
    return stat.rpartition(")")[2].split()[0]


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie waiting to be reaped counts as ended)."""
    return _process_state(pid) not in (None, "Z")


def _children_of(pid: int) -> list[int]:
    """The process ids whose parent is ``pid``."""
    children = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:
            children.append(int(stat_file.parent.name))
    return children


class PostgresServer:
    """A PostgreSQL server of its own on a free loopback port, in a temporary directory.

    Start one with :meth:`start` (or use it as a context manager); :meth:`close`
    (or leaving the ``with`` block) stops it and deletes its files. In between
    a test can :meth:`stop` it, :meth:`start_again` it on the same port with
    the same data, :meth:`restart` it, or :meth:`kill` it as a crash would.

    :param directory: the folder that holds the cluster (``data/``) and its log.
    :param bindir: the folder of ``initdb``, ``pg_ctl`` and ``postgres``.
    :param port: the loopback port it listens on.
    :param run_as: the operating-system user to run the server as, or ``None``
        for the current one.
    :param owns_directory: delete ``directory`` itself (not only its contents) on :meth:`close`.
    """

    def __init__(
        self, directory: Path, *, bindir: Path, port: int, run_as: str | None = None, owns_directory: bool = False
    ) -> None:
        self.directory = directory
        self.bindir = bindir
        self.port = port
        self.run_as = run_as
        self.owns_directory = owns_directory
        self.data_dir = directory / "data"
        self.log_file = directory / "postgres.log"
        self._closed = False

    @classmethod
    def start(
        cls, tmp_dir: Path | str | None = None, settings: Mapping[str, str | int] | None = None
    ) -> PostgresServer:
        """Create a fresh cluster and start its server; skips the test when PostgreSQL is not installed.

        :param tmp_dir: the folder to create the cluster's folder in (the
            system's temporary folder when ``None``). When the tests run as
            root the cluster goes to the system's temporary folder anyway,
            owned by the ``postgres`` user, since that user cannot enter
            pytest's private folders.
        :param settings: server settings over the defaults, written to its
            ``postgresql.conf``, such as ``{"max_connections": 200}``.
        :returns: the running server. It is also closed when the test process
            exits, should nothing close it before.
        """
        bindir = find_bindir()
        if bindir is None:
            service_unavailable(
                "PostgreSQL's server programs (initdb, pg_ctl, postgres) were not found under "
                f"/usr/lib/postgresql/*/bin, pg_config --bindir or PATH; install the PostgreSQL server "
                f"or set {BINDIR_VARIABLE}"
            )
        run_as: str | None = None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                service_unavailable(
                    f"PostgreSQL refuses to run as root and there is no {SERVER_USER!r} user to run it as; "
                    "create that user or run the tests as another user"
                )
            if shutil.which("runuser") is None:
                service_unavailable("PostgreSQL refuses to run as root and runuser (util-linux) is not installed")
            run_as = SERVER_USER
            directory = Path(tempfile.mkdtemp(prefix="erlen-postgres-"))
            os.chown(directory, account.pw_uid, account.pw_gid)
        else:
            directory = Path(tempfile.mkdtemp(prefix="erlen-postgres-", dir=tmp_dir))
        server = cls(directory, bindir=bindir, port=free_port(), run_as=run_as, owns_directory=True)
        atexit.register(server.close)
        try:
            server._copy_template_cluster()
            server._configure(settings or {})
            server._start_on_a_free_port()
        except BaseException:
            server.close()
            raise
        return server

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the server's ``postgres`` database as the ``postgres`` superuser."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        """The process id of the running server (the postmaster), or ``None`` when it is not running."""
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        except FileNotFoundError:
            return None
        pid = int(first_line)
        return pid if _process_alive(pid) else None

    @property
    def running(self) -> bool:
        """Whether the server runs."""
        return self.pid is not None

    def stop(self) -> None:
        """Stop the server with a fast shutdown (open connections are ended) and wait until it is down."""
        if self.running:
            self._pg_ctl("stop", "-m", "fast")

    def start_again(self) -> None:
        """Start the stopped (or killed) server again, on the same port with the same data, and wait until it is up."""
        if not self.running:
            self._pg_ctl("start", *self._start_options())

    def restart(self) -> None:
        """Stop the server and start it again."""
        self.stop()
        self.start_again()

    def kill(self) -> None:
        """Kill the server as a crash would: SIGKILL to the postmaster and its processes, then wait until they are gone.

        Each server process leads a process group of its own, so every group
        is signalled. The wait lasts until the postmaster is reaped too, since
        a new server refuses to start while the old one's PID still exists.
        """
        pid = self.pid
        if pid is None:
            return
        processes = [pid, *_children_of(pid)]
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process, signal.SIGKILL)
        deadline = time.monotonic() + PG_CTL_TIMEOUT
        while _process_state(pid) is not None or any(_process_alive(process) for process in processes):
            if time.monotonic() > deadline:
                raise PostgresServerError(f"PostgreSQL (pid {pid}) still runs {PG_CTL_TIMEOUT} s after SIGKILL")
            time.sleep(0.01)

    def close(self) -> None:
        """Stop the server (killing it when a fast shutdown fails) and delete its files. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            if self.running:
                try:
                    self._pg_ctl("stop", "-m", "fast")
                except PostgresServerError:
                    self.kill()
        finally:
            if self.owns_directory:
                shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"<PostgresServer 127.0.0.1:{self.port} {state} in {self.directory}>"

    def log(self) -> str:
        """The server's log so far (empty before its first start)."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _copy_template_cluster(self) -> None:
        """Give the server a fresh cluster: a copy of this process's template, made on first use."""
        key = (self.bindir, self.run_as)
        template = _templates.get(key)
        if template is None:
            template_server = PostgresServer(
                Path(tempfile.mkdtemp(prefix="erlen-postgres-template-")),
                bindir=self.bindir,
                port=0,
                run_as=self.run_as,
                owns_directory=True,
            )
            if self.run_as:
                shutil.chown(template_server.directory, self.run_as, self.run_as)
            atexit.register(shutil.rmtree, template_server.directory, True)
            template_server._create_cluster()
            template = _templates[key] = template_server.data_dir
        self._run(["cp", "-a", str(template), str(self.data_dir)])

    def _configure(self, settings: Mapping[str, str | int]) -> None:
        """Append ``settings`` to the cluster's ``postgresql.conf`` (later lines win)."""
        if not settings:
            return
        lines = "".join(f"{name} = '{value}'\n" for name, value in settings.items())
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(lines)

    def _create_cluster(self) -> None:
        self._run(
            [
                str(self.bindir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ]
        )
        # Throw-away data: no disk syncs. Loopback TCP only: no Unix socket
        # (its path could exceed the length limit), nothing reachable from outside.
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# erlen_db.postgres_server\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "fsync = off\n"
                "full_page_writes = off\n"
                "max_connections = 100\n"
            )

    def _start_on_a_free_port(self, attempts: int = 3) -> None:
        """Start the server; another process may take the free port first, so try a few ports."""
        for attempt in range(attempts):
            try:
                self._pg_ctl("start", *self._start_options())
                return
            except PostgresServerError:
                if attempt == attempts - 1 or "could not bind" not in self.log():
                    raise
                self.port = free_port()

    def _start_options(self) -> list[str]:
        # The port is given on each start, so a retried start can move it.
        return ["-l", str(self.log_file), "-o", f"-p {self.port}"]

    def _pg_ctl(self, action: str, *options: str) -> None:
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                action,
                "--pgdata",
                str(self.data_dir),
                "--wait",
                "--timeout",
                str(PG_CTL_TIMEOUT),
                *options,
            ]
        )

    def _run(self, command: Sequence[str]) -> None:
        full = ["runuser", "-u", self.run_as, "--", *command] if self.run_as else list(command)
        result = subprocess.run(
            full, capture_output=True, text=True, cwd=self.directory, timeout=PG_CTL_TIMEOUT + 30, check=False
        )
        if result.returncode != 0:
            log_tail = "\n".join(self.log().splitlines()[-20:])
            raise PostgresServerError(
                f"{' '.join(command)} failed with exit code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}\nserver log:\n{log_tail}"
            )


__all__ = ["PostgresServer", "PostgresServerError", "find_bindir", "free_port"]
