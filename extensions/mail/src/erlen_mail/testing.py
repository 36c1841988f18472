"""erlen-mail's testing kit, a pytest plugin loaded automatically once erlen-mail is installed.

Fixtures:

``outbox``
    Switches the ``app`` fixture's app to the ``memory`` backend and returns
    its outbox: the list of :class:`~erlen_mail.Message` objects sent,
    oldest first. For an app made with ``make_app``, use
    :func:`outbox_of`.
``deliver_outbox(app)``
    Runs the outbox worker once, as ``erlen mail worker --once`` does: every
    due message that was queued and committed goes to the app's backend (the
    ``memory`` backend after :func:`outbox_of`, so the outbox list holds it).
    With ``tasks`` enabled, the app's waiting jobs run first.
``DeliveredMail(app)``
    The messages the app's outbox worker delivered, as a read-only list:
    reading it (its length, an item, iterating) runs :func:`deliver_outbox`
    first. For tests of an app that queues its mail (erlen-auth does).
``smtp_server``
    A real SMTP server (aiosmtpd, install ``erlen-mail[testing]``) on
    127.0.0.1 and a free port, stopped after the test: an
    :class:`SMTPTestServer`. Its ``config()`` gives the ``MAIL_*`` settings
    to reach it.
"""

from __future__ import annotations

import ssl
import threading
import typing as t
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

import erlen
from erlen.testing import free_port

from .state import state_of

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from flask import Flask

    from .message import Message
    from .outbox.worker import BatchResult


#: A value of :attr:`SMTPTestServer.faults`: close the connection instead of answering the command.
HANG_UP = "hang up"


def outbox_of(app: Flask) -> list[Message]:
    """Switch ``app`` to the ``memory`` backend and return its outbox: the messages it sent, oldest first.

    A call that switches the backend empties the outbox; once the app uses
    the ``memory`` backend, calls only read it, so a test may call it again
    after sending and see what was sent. Clear the returned list to start over.

    :param app: an app with ``mail`` enabled.
    """
    state = state_of(app)
    if state.backend_name != "memory":
        state.use_backend("memory")
        state.outbox.clear()
    return state.outbox


def deliver_outbox(app: Flask) -> BatchResult:
    """Deliver the app's queued, committed, due messages now, as ``erlen mail worker --once`` does.

    The worker runs on its own database connections: what a test queued
    inside a transaction that is still open (such as ``db_session``'s) is
    not seen, so tests of queued mail commit for real.

    With the ``tasks`` plugin enabled, the app's waiting jobs run first (with
    :func:`erlen_tasks.run_jobs`), as its workers would run them, so the mail
    they queue (a notification sent by a job) is delivered too; the outbox's
    own delivery jobs are left waiting, as this call does their work.

    :param app: an app with ``db`` and ``mail`` enabled.
    :returns: what the worker did.
    """
    from .outbox.jobs import DELIVERY_QUEUE
    from .outbox.worker import OutboxWorker

    if erlen.plugins_of(app).get("tasks") is not None:
        import erlen_tasks

        queues = {job.queue for job in erlen_tasks.state_of(app).jobs.values()} - {DELIVERY_QUEUE}
        if queues:
            erlen_tasks.run_jobs(app, queues=queues)
    return OutboxWorker(app).run(once=True)


class DeliveredMail(Sequence["Message"]):
    """The mail an app's outbox worker delivered to the ``memory`` backend, oldest first.

    Each read runs the worker once (:func:`deliver_outbox`), so a test reads
    queued mail as its recipient gets it: once ``erlen mail worker`` sent it.

    :param app: an app with ``db`` and ``mail`` enabled; it is switched to the ``memory`` backend.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.messages = outbox_of(app)

    def __len__(self) -> int:
        deliver_outbox(self.app)
        return len(self.messages)

    @t.overload
    def __getitem__(self, index: int) -> Message: ...

    @t.overload
    def __getitem__(self, index: slice) -> Sequence[Message]: ...

    def __getitem__(self, index: int | slice) -> Message | Sequence[Message]:
        deliver_outbox(self.app)
        return self.messages[index]

    def __iter__(self) -> Iterator[Message]:
        deliver_outbox(self.app)
        return iter(list(self.messages))


@pytest.fixture
def outbox(app: Flask) -> list[Message]:
    """The messages the ``app`` fixture's app sends; see the module documentation."""
    return outbox_of(app)


@dataclass
class ReceivedMessage:
    """One message an :class:`SMTPTestServer` received.

    :param sender: the envelope sender (``MAIL FROM``).
    :param recipients: the envelope recipients (``RCPT TO``).
    :param data: the message as received.
    :param session: an identifier of the connection it came over.
    :param tls: whether the connection was encrypted.
    :param login: the user name the client logged in with, if any.
    :param mail_options: the ``MAIL FROM`` parameters, such as ``BODY=8BITMIME``.
    """

    sender: str
    recipients: list[str]
    data: bytes
    session: int
    tls: bool
    login: str | None
    mail_options: list[str] = field(default_factory=list)

    @property
    def email(self) -> EmailMessage:
        """The message parsed."""
        return message_from_bytes(self.data, policy=policy.default)


@dataclass
class _Handler:
    server: SMTPTestServer
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: list[object] = field(default_factory=list)

    def fault(self, server: t.Any, command: str) -> str | None:
        """The fault armed for ``command``, taken (each applies once); for :data:`HANG_UP`, the connection is closed."""
        with self.lock:
            reply = self.server.faults.pop(command, None)
        if reply == HANG_UP:
            server.transport.close()  # the client never hears an answer
        return reply

    async def handle_EHLO(
        self, server: t.Any, session: t.Any, envelope: t.Any, hostname: str, responses: list[str]
    ) -> list[str]:
        reply = self.fault(server, "EHLO")
        if reply is not None:
            return [reply]
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        return responses

    async def handle_MAIL(
        self, server: t.Any, session: t.Any, envelope: t.Any, address: str, mail_options: list[str]
    ) -> str:
        reply = self.fault(server, "MAIL")
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: t.Any, session: t.Any, envelope: t.Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.fault(server, "RCPT")
        if reply is not None:
            return reply
        if address in self.server.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:
        if self.server.data_reply is not None:
            return self.server.data_reply
        reply = self.fault(server, "END")
        if reply is not None and reply != HANG_UP:
            return reply  # the message is not kept
        with self.lock:
            if not any(s is session for s in self.sessions):
                self.sessions.append(session)  # kept alive, so identities stay distinct
            number = next(i for i, s in enumerate(self.sessions) if s is session)
            login = getattr(session, "auth_data", None)
            self.server.messages.append(
                ReceivedMessage(
                    sender=envelope.mail_from,
                    recipients=list(envelope.rcpt_tos),
                    data=bytes(envelope.original_content or envelope.content),
                    session=number,
                    tls=session.ssl is not None,
                    login=login.decode() if isinstance(login, bytes) else login,
                    mail_options=list(envelope.mail_options),
                )
            )
            received = self.server.messages[-1]
        if self.server.on_data is not None:
            self.server.on_data(received)
        if self.server.hang_up_after_data and reply is None:
            server.transport.close()  # the message is kept, but the client never hears that it was
        return "250 Message accepted for delivery"


class SMTPTestServer:
    """A real SMTP server for tests, on 127.0.0.1, built on aiosmtpd.

    :param port: the port; a free one by default. It stays the same across
        :meth:`stop` and :meth:`start`, to test a server that goes down and
        comes back.
    :param tls_context: a server-side :class:`ssl.SSLContext`: offer
        STARTTLS (and require it, with ``require_starttls``), or speak TLS
        from the start with ``implicit_tls``.
    :param credentials: user name to password; when given, clients may log in
        (AUTH PLAIN and LOGIN) and must, with ``require_auth``.
    :param smtputf8: offer SMTPUTF8 (addresses that are not ASCII).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        require_starttls: bool = False,
        credentials: dict[str, str] | None = None,
        require_auth: bool = False,
        smtputf8: bool = True,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.require_starttls = require_starttls
        self.credentials = credentials
        self.require_auth = require_auth
        self.smtputf8 = smtputf8
        #: Every message received, oldest first.
        self.messages: list[ReceivedMessage] = []
        #: Recipients the server refuses (550).
        self.refuse: set[str] = set()
        #: When set, the answer to every message's DATA (such as ``"451 4.3.0 Try again later"``);
        #: the message is not kept.
        self.data_reply: str | None = None
        #: Called with each message received (in the server's thread) before the server answers.
        self.on_data: Callable[[ReceivedMessage], None] | None = None
        #: Keep each message but close the connection instead of answering, as a server
        #: or network failing at the worst moment: the client cannot know it was accepted.
        self.hang_up_after_data = False
        #: Failures, by step of the exchange, to the answer given instead of the usual one (such as
        #: ``"421 4.3.2 Closing"``), or to :data:`HANG_UP` to close the connection without one: ``"GREETING"``
        #: (the ``220`` a new connection opens with), ``"EHLO"``, ``"AUTH"`` (with ``credentials``), ``"MAIL"``,
        #: ``"RCPT"``, ``"DATA"`` (the ``354`` to the command, before the body: the transaction stays open, as
        #: a server's that refuses it) and ``"END"`` (the ``250`` after the body's final ``.``: with an answer
        #: the message is not kept; with :data:`HANG_UP` it is, and the client cannot know). After a ``421``
        #: at the greeting or at ``DATA`` the server closes the connection. Each applies once, to the next
        #: such step, and is then removed.
        self.faults: dict[str, str] = {}
        self._handler = _Handler(self)
        self._controller: t.Any = None

    @property
    def connections_used(self) -> int:
        """How many distinct connections delivered at least one message."""
        return len(self._handler.sessions)

    @property
    def running(self) -> bool:
        """Whether the server is accepting connections."""
        return self._controller is not None

    def _authenticate(self, server: t.Any, session: t.Any, envelope: t.Any, mechanism: str, data: t.Any) -> t.Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        reply = self._handler.fault(server, "AUTH")
        if reply is not None:
            return AuthResult(success=False, handled=False, message=None if reply == HANG_UP else reply)
        if isinstance(data, LoginPassword) and self.credentials is not None:
            login, password = data.login.decode(), data.password.decode()
            if self.credentials.get(login) == password:
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    def start(self, *, ready_timeout: float = 10.0) -> None:
        """Start listening (again, on the same port); waits at most ``ready_timeout`` seconds."""
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP

        if self._controller is not None:
            return
        handler = self._handler

        class FaultySMTP(SMTP):
            """aiosmtpd's server, with the faults of :attr:`SMTPTestServer.faults` it has no hook for."""

            async def _handle_client(self) -> None:
                reply = handler.fault(self, "GREETING")
                if reply is None:
                    await super()._handle_client()
                elif reply != HANG_UP:
                    await self.push(reply)
                    self.transport.close()  # type: ignore[union-attr]  # a server refusing service hangs up

            async def smtp_DATA(self, arg: str) -> None:
                reply = handler.fault(self, "DATA")
                if reply is None:
                    await super().smtp_DATA(arg)
                elif reply != HANG_UP:
                    await self.push(reply)  # the transaction (MAIL FROM, RCPT TO) stays as it was
                    if reply.startswith("421"):
                        self.transport.close()  # type: ignore[union-attr]

        class TrackingController(Controller):
            """Keeps the server's protocol instances, so :meth:`stop` can close their connections."""

            protocols: list[t.Any]

            def factory(self) -> t.Any:
                protocol = FaultySMTP(self.handler, **self.SMTP_kwargs)
                self.protocols.append(protocol)
                return protocol

        options: dict[str, t.Any] = {}
        if self.credentials is not None:
            options.update(
                authenticator=self._authenticate,
                auth_required=self.require_auth,
                # aiosmtpd can require TLS for AUTH only on STARTTLS connections.
                auth_require_tls=self.tls_context is not None and not self.implicit_tls,
            )
        if self.tls_context is not None and not self.implicit_tls:
            options.update(tls_context=self.tls_context, require_starttls=self.require_starttls)
        controller = TrackingController(
            self._handler,
            hostname=self.host,
            port=self.port,
            ready_timeout=ready_timeout,
            ssl_context=self.tls_context if self.implicit_tls else None,
            server_hostname="localhost",
            enable_SMTPUTF8=self.smtputf8,
            **options,
        )
        controller.protocols = []
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening and drop open connections.

        The connections still open are closed on the server's loop first: stopping the loop with them open
        would leave their sockets to the garbage collector (a ResourceWarning in a later test).
        """
        controller, self._controller = self._controller, None
        if controller is None:
            return
        import asyncio

        async def close_connections() -> None:
            # Stop accepting first, then let the connections accepted just before reach their protocol:
            # a client retrying in a loop connects right up to the end, and a connection whose protocol
            # never saw it would be left open when the loop stops. Not Server.close(): a connection
            # accepted a moment before would then fail to attach to the closed server, half made.
            for listening in controller.server.sockets:
                controller.loop.remove_reader(listening.fileno())
            # asyncio accepts each connection in a task of its own, which ends once the protocol has it (after
            # the TLS handshake, or its failure, with implicit TLS); an accept already under way in this turn
            # of the loop makes its tasks after this step, hence the waits until none is left. The name is
            # CPython's; were it renamed, only the connections already made would be closed, as before.
            deadline = controller.loop.time() + 2
            while True:
                await asyncio.sleep(0)
                accepting = [
                    task
                    for task in asyncio.all_tasks()
                    if getattr(task.get_coro(), "__name__", "") == "_accept_connection2"
                ]
                left = deadline - controller.loop.time()
                if not accepting or left <= 0:
                    break
                await asyncio.wait(accepting, timeout=left)
            for protocol in controller.protocols:
                transport = getattr(protocol, "transport", None)
                if transport is not None:
                    transport.abort()  # at once, unsent replies dropped: close() would wait to send them
            await asyncio.sleep(0)  # their connection_lost callbacks run

        try:
            asyncio.run_coroutine_threadsafe(close_connections(), controller.loop).result(timeout=5)
        except Exception:  # the loop already stopped, or hangs: stopping it below is what matters
            pass
        controller.stop()

    def config(self) -> dict[str, t.Any]:
        """The ``MAIL_*`` settings that send to this server."""
        config: dict[str, t.Any] = {"MAIL_BACKEND": "smtp", "MAIL_SMTP_HOST": self.host, "MAIL_SMTP_PORT": self.port}
        if self.tls_context is not None:
            config["MAIL_SMTP_SECURITY"] = "ssl" if self.implicit_tls else "starttls"
        return config


@pytest.fixture
def smtp_server() -> Iterator[SMTPTestServer]:
    """A running :class:`SMTPTestServer` without TLS or login, stopped after the test."""
    pytest.importorskip("aiosmtpd", reason="the smtp_server fixture needs erlen-mail[testing]")
    server = SMTPTestServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


__all__ = ["HANG_UP", "DeliveredMail", "ReceivedMessage", "SMTPTestServer", "deliver_outbox", "free_port", "outbox_of"]
