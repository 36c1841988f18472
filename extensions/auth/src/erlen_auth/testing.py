"""The testing kit of erlen-auth, a pytest plugin loaded once erlen-auth is installed.

Fixtures (on the core's ``app`` fixture; enable ``auth`` in ``erlen_plugins``):

``create_user``
    ``create_user("ada@example.com", password=..., roles=[...], superuser=False)``
    makes a committed user inside the ``db_session`` test transaction (rolled
    back at the end). The default password is :data:`DEFAULT_PASSWORD`.
``create_token``
    ``create_token(user, "notes.edit", ...)`` makes a personal access token of
    ``user`` limited to those scopes (permissions ``user`` has), committed
    inside the ``db_session`` test transaction, and returns it, for
    ``Authorization: Bearer`` (erlen-api's ``make_api_client(token=...)``).
``login_as``
    ``login_as(client, user, remember=False)`` logs a test client in as
    ``user`` without the log-in form: it makes a log-in session (an
    ``auth_session`` row, in the test transaction under ``db_session``) and
    sets the cookies as a real log-in would.
``oidc_provider``
    An OpenID Connect provider on loopback, running for the test: a
    :class:`erlen_auth.testing_oidc.TestProvider` (see that module).
``redis_server``
    A :class:`RedisServer` of the test's own (never the machine's shared
    one), started on a free loopback port and stopped after the test: for
    tests that stop or freeze Redis.

Config:

:data:`FAST_HASHING`
    ``AUTH_ARGON2_*`` values that make hashing cheap, for test apps only.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import typing as t
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from erlen.testing import free_port, service_unavailable

if t.TYPE_CHECKING:
    # Imported lazily: defining the models outside an app that enables auth would give their tables to the app.
    from .models import User

#: The password :func:`create_user` gives when none is passed.
DEFAULT_PASSWORD = "correct horse battery staple"

#: Cheap argon2id parameters for tests; never use them in production.
FAST_HASHING: dict[str, int] = {"AUTH_ARGON2_TIME_COST": 1, "AUTH_ARGON2_MEMORY_COST": 8, "AUTH_ARGON2_PARALLELISM": 1}


def make_user(
    app: Flask,
    email: str,
    *,
    password: str = DEFAULT_PASSWORD,
    roles: Iterable[str] = (),
    superuser: bool = False,
    active: bool = True,
    confirmed: bool = True,
    db: Session | None = None,
) -> User:
    """Create and commit a user of ``app``; roles that do not exist yet are created.

    :param db: the session to use; a new session of the app by default.
    """
    import sqlalchemy as sa

    from erlen_db import database_of

    from . import accounts
    from .models import Role

    session = db if db is not None else database_of(app).new_session()
    try:
        with app.app_context():
            for name in roles:
                if session.scalar(sa.select(Role).where(Role.name == name)) is None:
                    session.add(Role(name=name))
            session.flush()
            user = accounts.create_user(
                email, password, superuser=superuser, active=active, confirmed=confirmed, roles=roles, db=session
            )
            _ = [role.permissions for role in user.roles]  # loaded now: the session may close below
            return user
    except BaseException:
        session.rollback()
        raise
    finally:
        if db is None:
            session.close()  # the user stays usable: sessions do not expire objects on commit


def make_token(
    app: Flask,
    user: User,
    *scopes: str,
    name: str = "test",
    expires_days: int | None = 30,
    db: Session | None = None,
) -> str:
    """Make and commit a personal access token of ``user``, as ``erlen user token create`` does; return it.

    :param app: the app.
    :param user: whose token; it authenticates as them.
    :param scopes: the permissions it may use, each one ``user`` has (through a role, or as a superuser).
    :param name: what it is for, shown in the user's list of tokens.
    :param expires_days: days it is valid for; ``None``: never (only without ``AUTH_ACCESS_TOKEN_MAX_DAYS``).
    :param db: the session to use (``db_session`` in a test); a new session of the app by default.
    :raises erlen_auth.access_tokens.ScopeError: a scope ``user`` does not have.
    """
    import sqlalchemy as sa

    from erlen_db import database_of

    from . import access_tokens
    from .models import User

    session = db if db is not None else database_of(app).new_session()
    try:
        # A request's context: the token_created notice it queues is a mail with links.
        with app.test_request_context():
            # Not Session.get_one: SQLAlchemy 2.0.22's, newer than the lowest version erlen-db supports.
            owner = session.execute(sa.select(User).where(User.id == user.id)).scalar_one()
            made = access_tokens.create(owner, name=name, scopes=scopes, expires_days=expires_days, db=session)
            session.commit()
            return made.token
    except BaseException:
        session.rollback()
        raise
    finally:
        if db is None:
            session.close()


def login_as(client: FlaskClient, user: User, *, remember: bool = False) -> FlaskClient:
    """Log ``client`` in as ``user`` without the form: a log-in session is made and the cookies carry it.

    :param remember: also set the remember-me cookie, as "remember me" does.
    :returns: the client.
    """
    from flask import request
    from flask_login.utils import encode_cookie

    from erlen_db import database_of

    from . import sessions
    from .accounts import client_address

    app = client.application
    with app.test_request_context(environ_base=dict(client.environ_base)):
        identifier = app.login_manager._session_identifier_generator()  # type: ignore[attr-defined]
        db = database_of(app).new_session()
        try:
            sessions.start(user, db, user_agent=request.headers.get("User-Agent", ""), address=client_address())
            db.commit()
        finally:
            db.close()
        key = user.get_id()
        cookie = encode_cookie(key)
    with client.session_transaction() as session:
        session.clear()
        session["_user_id"] = key
        session["_fresh"] = True
        session["_id"] = identifier
    if remember:
        client.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), cookie)
    return client


@pytest.fixture
def create_user(app: Flask, db_session: Session) -> Callable[..., User]:
    """A factory of users in the test transaction; see the module documentation."""

    def make(email: str = "user@example.com", **kwargs: t.Any) -> User:
        return make_user(app, email, db=db_session, **kwargs)

    return make


@pytest.fixture
def create_token(app: Flask, db_session: Session) -> Callable[..., str]:
    """A factory of personal access tokens in the test transaction; see the module documentation."""

    def make(user: User, *scopes: str, **kwargs: t.Any) -> str:
        return make_token(app, user, *scopes, db=db_session, **kwargs)

    return make


@pytest.fixture(name="login_as")
def login_as_fixture() -> Callable[..., FlaskClient]:
    """:func:`login_as`, as a fixture."""
    return login_as


def _end_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Stop ``process`` (thawed first: a stopped process does not act on SIGTERM) and wait; SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    except ProcessLookupError:  # it ended between the poll and the signal
        process.wait()


class RedisServer:
    """A ``redis-server`` of a test's own on 127.0.0.1, to stop, freeze and start again.

    Never the machine's shared Redis: the server listens on a free loopback
    port, keeps nothing on disk (``--save "" --appendonly no``) unless told
    to (``appendonly``), and works in ``directory``, where its log goes too. Use it as a context manager (or
    the ``redis_server`` fixture) so it is always stopped; a server left
    running is killed when the test process exits.

    A test's Redis without the ``redis-server`` binary skips the test with
    :func:`erlen.testing.service_unavailable` (fails under
    ``ERLEN_REQUIRE_SERVICES=1``).

    :param directory: the server's working directory (a test's ``tmp_path``).
    :param port: the port; a free one by default. It stays the same across
        :meth:`stop` and :meth:`start_again`.
    :param binary: the ``redis-server`` executable; found on ``PATH`` by default.
    :param appendonly: keep the data in an append-only file in ``directory``
        (``--appendonly yes``, fsynced every second), as a Redis that is a
        job broker runs: what it holds survives :meth:`stop` and
        :meth:`start_again`.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        port: int | None = None,
        binary: str | None = None,
        appendonly: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.port = port or free_port()
        self.binary = binary or shutil.which("redis-server")
        self.appendonly = appendonly
        self._process: subprocess.Popen[bytes] | None = None
        self._frozen = False

    @classmethod
    def started(cls, directory: str | os.PathLike[str], **options: t.Any) -> RedisServer:
        """A server in ``directory``, started and ready; stop it with :meth:`stop` (or use it in a ``with``).

        :param options: passed to the constructor (``port``, ``binary``, ``appendonly``).
        """
        server = cls(directory, **options)
        server.start()
        return server

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's process id; ``None`` when it is not running."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the server's process is alive (frozen or not)."""
        return self._process is not None and self._process.poll() is None

    @property
    def frozen(self) -> bool:
        """Whether the server is stopped with SIGSTOP: connections open, but nothing is ever answered."""
        return self.running and self._frozen

    @property
    def log_path(self) -> Path:
        """The file the server writes its log to."""
        return self.directory / f"redis-{self.port}.log"

    def start(self, *, ready_timeout: float = 10.0) -> None:
        """Start the server (nothing when it runs) and wait until it answers PING.

        :param ready_timeout: seconds to wait for it to answer.
        """
        if self.running:
            return
        if self.binary is None:
            service_unavailable("redis-server is not installed (apt-get install redis-server); a test Redis needs it")
        self.directory.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "no"]
        if self.appendonly:
            persistence = ["--appendonly", "yes", "--appendfsync", "everysec"]
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence]
        command += ["--dir", str(self.directory), "--daemonize", "no"]
        with open(self.log_path, "ab") as log:
            # A session of its own: a Ctrl-C meant for pytest does not reach it before the clean-up does.
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._process = process
        self._frozen = False
        weakref.finalize(self, _end_process, process, 5.0)
        deadline = time.monotonic() + ready_timeout
        while not self._answers_ping():
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log_tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server on port {self.port} did not start; its log:\n{log_tail}")
            time.sleep(0.02)

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the server by its process id (thawing it first) and wait until it has exited.

        :param timeout: seconds to wait after SIGTERM before SIGKILL.
        """
        if self._process is not None:
            _end_process(self._process, timeout)
        self._frozen = False

    def start_again(self, *, ready_timeout: float = 10.0) -> None:
        """Start a stopped server again on the same port, empty (with ``appendonly``, with what it held);
        waits until it answers."""
        self.stop()
        self.start(ready_timeout=ready_timeout)

    def freeze(self) -> None:
        """Suspend the server (SIGSTOP): it accepts connections but answers nothing, as a hung Redis."""
        if not self.running or self._process is None:
            raise RuntimeError("the Redis server is not running: start it before freezing it")
        self._process.send_signal(signal.SIGSTOP)
        self._frozen = True

    def thaw(self) -> None:
        """Let a frozen server go on (SIGCONT); what it was sent meanwhile is answered now."""
        if self.running and self._process is not None:
            self._process.send_signal(signal.SIGCONT)
        self._frozen = False

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A :class:`RedisServer` of the test's own, running; stopped after the test."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def oidc_provider() -> Iterator[t.Any]:
    """An OpenID Connect provider on loopback (:class:`erlen_auth.testing_oidc.TestProvider`), stopped after."""
    from .testing_oidc import TestProvider

    with TestProvider() as provider:
        yield provider


__all__ = ["DEFAULT_PASSWORD", "FAST_HASHING", "RedisServer", "login_as", "make_token", "make_user"]
