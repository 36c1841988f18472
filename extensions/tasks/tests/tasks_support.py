"""Helpers of the erlen-tasks tests: waiting for effects, a worker in a thread, the brokers' servers."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import typing as t
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from tasks_testplugin import Effect

import erlen_db
from erlen.testing import free_port, service_unavailable
from erlen_tasks.models import JobRecord
from erlen_tasks.worker import RunReport, WorkerOptions, run_worker

REDIS_URL = os.environ.get("ERLEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("ERLEN_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def effects(app: Flask, label: str | None = None) -> list[str]:
    """The labels of the effects recorded (with ``label`` only, when given)."""
    query = sa.select(Effect.label).order_by(Effect.id)
    if label is not None:
        query = query.where(Effect.label == label)
    with erlen_db.database_of(app).session_scope() as session:
        return list(session.scalars(query))


def statuses(app: Flask) -> dict[str, str]:
    """Each job row's status, by job name and id (``"test.record#1"``)."""
    with erlen_db.database_of(app).session_scope() as session:
        return {f"{row.job}#{row.id}": row.status for row in session.scalars(sa.select(JobRecord))}


def rows(app: Flask) -> list[JobRecord]:
    with erlen_db.database_of(app).session_scope() as session:
        found = list(session.scalars(sa.select(JobRecord).order_by(JobRecord.id)))
        session.expunge_all()
        return found


def wait_for(condition: Callable[[], t.Any], *, timeout: float = 20.0, what: str = "the condition") -> t.Any:
    """Poll ``condition`` until it is true; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def worker_thread(
    app: Flask, *, report_relay: Callable[[t.Any], None] | None = None, **options: t.Any
) -> Iterator[list[RunReport]]:
    """Run ``erlen tasks worker``'s loop in a thread for the block; yields the runs it reports.

    :param report_relay: called with each relay pass that relayed something or met an error.
    """
    stop = threading.Event()
    reports: list[RunReport] = []
    thread = threading.Thread(
        target=run_worker,
        args=(app, stop, WorkerOptions(**{"threads": 2, "stop_timeout": 30.0, "scheduler": False, **options})),
        kwargs={"report": reports.append, "report_relay": report_relay},
        daemon=True,
    )
    thread.start()
    try:
        yield reports
    finally:
        stop.set()
        thread.join(timeout=40.0)
        assert not thread.is_alive(), "the worker did not stop"


def reachable(url: str, default_port: int) -> bool:
    parsed = sa.make_url(url.replace("amqp://", "amqp+x://")) if url.startswith("amqp") else sa.make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or default_port), timeout=1.0):
            return True
    except OSError:
        return False


def require_redis() -> str:
    if not reachable(REDIS_URL, 6379):
        service_unavailable(f"Redis not reachable at {REDIS_URL}; set ERLEN_TEST_REDIS_URL")
    return REDIS_URL


def require_rabbitmq() -> str:
    if not reachable(RABBITMQ_URL, 5672):
        service_unavailable("RabbitMQ not reachable at 127.0.0.1:5672; set ERLEN_TEST_RABBITMQ_URL")
    return RABBITMQ_URL


class OwnRedis:
    """A redis-server of the test's own on a free loopback port, to stop and start again (never the shared one)."""

    def __init__(self, directory: Path, *options: str) -> None:
        """:param options: redis-server options after the defaults (no snapshots, no append-only file), which they
        override, such as ``"--appendonly", "yes"``."""
        self.directory = directory
        self.options = options
        self.port = free_port()
        self.binary = shutil.which("redis-server")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.binary is None:
            service_unavailable("redis-server is not installed (apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        command += ["--save", "", "--appendonly", "no", *self.options]
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - the server's log, closed with it
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 10.0
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(64).startswith((b"+PONG", b"-NOAUTH")):  # up (with a password or not)
                        return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class CuttableLink:
    """A TCP relay of the test's own, on a free loopback port, to a real server: a network cut on demand.

    :meth:`cut` closes the relayed connections and the listening socket (connections are refused, as when the
    server is away); :meth:`restore` listens again on the same port. For a shared server the test must not stop.

    :param host: the server's host.
    :param port: the server's port.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def restore(self) -> None:
        """Listen (again) and relay each connection to the server."""
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the port again after cut()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the listening socket and every relayed connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread in accept(): close() alone would not
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by cut()
                return
            try:
                server = socket.create_connection(self.target, timeout=5.0)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._connections += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):  # one side ended: so does the other (closing twice is harmless)
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
