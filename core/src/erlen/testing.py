"""Erlen's testing kit, a pytest plugin loaded automatically once Erlen is installed.

Fixtures:

``make_app``
    A factory: ``make_app(["db"], {"DB_URL": ...})`` builds an app with those
    plugins and config, ``TESTING`` on, its instance folder in a temporary
    directory, and an empty environment (so ``ERLEN_*`` variables of the
    shell running the tests do not leak in; pass ``environ=`` to test them).
    Every app it made is closed (:func:`erlen.close_app`) after the test.
``erlen_plugins``, ``erlen_config``
    Override these in a ``conftest.py`` to choose what ``app`` is built with.
``app``, ``client``, ``cli_runner``
    The app built from them, its test client and its CLI runner.
``restore_logging``
    For tests of apps with ``LOG_FORMAT = "json"``, which set up the root
    logger: afterwards, removes the handlers the test added and restores its
    level (``pytestmark = pytest.mark.usefixtures("restore_logging")``).

Extensions ship fixtures of their own through their own ``pytest11`` entry
points, built on ``make_app``.

:func:`validate_plugin` checks a plugin's hook implementations against the
hook specifications, for a plugin's own test suite. :func:`service_unavailable`
skips a test whose server or browser is missing, and fails it instead under
``ERLEN_REQUIRE_SERVICES=1`` (as CI runs). :func:`free_port` finds a loopback
port for a server a test starts of its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
import typing as t
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from . import hookspecs
from .app import close_app, create_app
from .plugins.validation import collect_specs, find_problems

#: The secret key of apps built by :func:`make_app` unless the config sets one.
TESTING_SECRET_KEY = "erlen-testing-secret-key-not-for-production-use"

#: Set to ``1`` (CI does) to make tests fail, not skip, when a service they need is missing.
SERVICES_REQUIRED_VARIABLE = "ERLEN_REQUIRE_SERVICES"


def services_required() -> bool:
    """Whether ``ERLEN_REQUIRE_SERVICES=1`` asks for every service to be present."""
    return os.environ.get(SERVICES_REQUIRED_VARIABLE) == "1"


def service_unavailable(message: str) -> t.NoReturn:
    """Skip the current test because a service (a server, a browser) is missing.

    On a developer's machine the test skips with ``message``; under
    ``ERLEN_REQUIRE_SERVICES=1`` (CI) it fails, so a missing install step
    cannot pass silently.

    :param message: what is missing and how to provide it.
    """
    if services_required():
        pytest.fail(f"{message} ({SERVICES_REQUIRED_VARIABLE}=1: services are required)", pytrace=False)
    pytest.skip(message)


#: The lowest port :func:`free_port` gives: above those that well-known servers listen on.
_LOWEST_TEST_PORT = 10000

#: The kernel's ephemeral ports where it cannot be read (Linux's default; BSD, macOS and Windows start higher).
_DEFAULT_EPHEMERAL_PORTS = range(32768, 61000)


def _ephemeral_ports() -> range:
    """The ports the kernel gives outgoing connections (Linux's ``ip_local_port_range``)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return _DEFAULT_EPHEMERAL_PORTS


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now, for a server a test starts of its own.

    The port lies below the kernel's ephemeral range, which the kernel draws from for the local end of
    every outgoing connection. A server a test stops and starts again on its port (PostgreSQL or Redis
    after an outage) would otherwise find it taken, now and then, by a connection another process opened
    meanwhile, and fail to start with "Address already in use".
    """
    ephemeral = _ephemeral_ports()
    candidates = range(_LOWEST_TEST_PORT, max(ephemeral.start, _LOWEST_TEST_PORT))
    if len(candidates) < 1000:  # a kernel whose ephemeral range starts low: take the ports above it
        candidates = range(max(ephemeral.stop, _LOWEST_TEST_PORT), 65536)
    if not candidates:  # the kernel's range covers every port: only it knows a free one
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])
    draw = random.SystemRandom()  # not the random module's state, which Hypothesis seeds in its tests
    for _ in range(200):
        port = draw.choice(candidates)
        if _port_is_free(port):
            return port
    raise RuntimeError(f"no free TCP port on 127.0.0.1 in {candidates.start}-{candidates.stop - 1} after 200 tries")


@contextlib.contextmanager
def gunicorn_serving(
    app: str, *, chdir: Path, log: Path, env: Mapping[str, str] | None = None, workers: int = 1
) -> Iterator[int]:
    """gunicorn serving ``app`` on a free port of 127.0.0.1 until the block ends; gives the port once it answers.

    Ready means the port takes a connection, within 60 seconds (else an ``AssertionError`` with the log). The
    server gets SIGTERM at the end, and SIGKILL if it is still running 30 seconds later.

    :param app: gunicorn's ``module:variable``.
    :param chdir: the folder gunicorn imports ``app`` from.
    :param log: the file gunicorn's standard output and error go to.
    :param env: the server's environment (default: this process's, without ``ERLEN_*`` variables).
    :param workers: gunicorn's worker processes.
    """
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
               "--chdir", str(chdir), app]  # fmt: skip
    if env is None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("ERLEN_")}
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=dict(env), stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"gunicorn exited: {log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"gunicorn did not answer within 60 seconds: {log.read_text()}"
                time.sleep(0.2)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def exchange_raw(port: int, request: bytes) -> tuple[int, bytes]:
    """Send the raw HTTP ``request`` to 127.0.0.1:``port`` (ending it with ``Connection: close``).

    :returns: the answer's status and body.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def validate_plugin(plugin: object, *, hookspec_modules: Iterable[object] = (), name: str | None = None) -> list[str]:
    """Check ``plugin``'s hook implementations against the hook specifications.

    :param plugin: the plugin module or object.
    :param hookspec_modules: specification modules of extensions the plugin
        implements hooks of, besides the core's (and the plugin's own, which
        it returns from ``erlen_hookspecs``).
    :param name: the plugin's name in the messages.
    :returns: a message per problem; an empty list when the plugin is valid.
    """
    namespaces: list[object] = [hookspecs, *hookspec_modules]
    own = getattr(plugin, "erlen_hookspecs", None)
    if callable(own):
        namespaces.extend(own() or ())
    label = name or str(getattr(plugin, "__name__", type(plugin).__name__))
    return find_problems(label, plugin, collect_specs(namespaces))


def assert_valid_plugin(plugin: object, *, hookspec_modules: Iterable[object] = (), name: str | None = None) -> None:
    """Fail the test with every problem :func:`validate_plugin` finds."""
    problems = validate_plugin(plugin, hookspec_modules=hookspec_modules, name=name)
    assert not problems, "\n".join(problems)


class MakeApp(t.Protocol):
    def __call__(
        self,
        plugins: Iterable[str] | None = None,
        config: Mapping[str, t.Any] | None = None,
        *,
        import_name: str = ...,
        environ: Mapping[str, str] | None = None,
        **flask_options: t.Any,
    ) -> Flask: ...


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    """A factory of test apps, each closed (:func:`erlen.close_app`) after the test; see the module documentation."""
    made: list[Flask] = []

    def make(
        plugins: Iterable[str] | None = None,
        config: Mapping[str, t.Any] | None = None,
        *,
        import_name: str = "erlen_test_app",
        environ: Mapping[str, str] | None = None,
        **flask_options: t.Any,
    ) -> Flask:
        settings: dict[str, t.Any] = {"TESTING": True, "SECRET_KEY": TESTING_SECRET_KEY}
        settings.update(config or {})
        if plugins is not None:
            settings["PLUGINS"] = list(plugins)
        flask_options.setdefault("instance_path", str(tmp_path / "instance"))
        app = create_app(import_name, settings, environ={} if environ is None else environ, **flask_options)
        made.append(app)
        return app

    yield make
    for app in made:
        close_app(app)


@pytest.fixture
def erlen_plugins() -> list[str]:
    """The plugins the ``app`` fixture enables; override to choose."""
    return []


@pytest.fixture
def erlen_config() -> dict[str, t.Any]:
    """Extra configuration for the ``app`` fixture; override to choose."""
    return {}


@pytest.fixture
def app(make_app: MakeApp, erlen_plugins: list[str], erlen_config: dict[str, t.Any]) -> Flask:
    """An app with ``erlen_plugins`` enabled and ``erlen_config`` applied."""
    return make_app(erlen_plugins, erlen_config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@pytest.fixture
def cli_runner(app: Flask) -> FlaskCliRunner:
    """A runner of ``app``'s CLI commands: ``cli_runner.invoke(args=["plugins"])``."""
    return app.test_cli_runner()


__all__: list[str] = [
    "SERVICES_REQUIRED_VARIABLE",
    "TESTING_SECRET_KEY",
    "MakeApp",
    "assert_valid_plugin",
    "free_port",
    "service_unavailable",
    "services_required",
    "validate_plugin",
]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo what the test did to the root logger: remove the handlers it added and restore its level."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
