"""The smtp backend against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import socket
import ssl
import typing as t
from collections.abc import Callable
from pathlib import Path

import pytest

from erlen_mail import Message, SendError, send
from erlen_mail.testing import HANG_UP, SMTPTestServer, free_port

SENDER = "Erlen <noreply@example.com>"
StartServer = Callable[..., SMTPTestServer]


def app_for(make_app: t.Any, server: SMTPTestServer, **config: t.Any) -> t.Any:
    return make_app(["mail"], {"MAIL_DEFAULT_SENDER": SENDER, **server.config(), **config})


def full_message() -> Message:
    message = Message(
        "Real SMTP",
        to=["ada@example.com", ("Bob", "bob@example.com")],
        cc="cy@example.com",
        bcc="secret@example.com",
        body="plain body",
        html="<p>html body</p>",
        headers={"X-Test": "1"},
    )
    message.attach("data.csv", "a,b\n1,2\n")
    return message


def test_plain_smtp(make_app: t.Any, smtp_server: SMTPTestServer) -> None:
    app = app_for(make_app, smtp_server)
    result = send(full_message(), app=app)
    assert result.sent and not result.refused
    [received] = smtp_server.messages
    assert received.sender == "noreply@example.com"
    assert received.recipients == ["ada@example.com", "bob@example.com", "cy@example.com", "secret@example.com"]
    assert not received.tls
    email = received.email
    assert email["Subject"] == "Real SMTP"
    assert email["X-Test"] == "1"
    assert email["Message-ID"] == result.message.message_id
    assert email["Bcc"] is None and b"secret@example.com" not in received.data
    assert email.get_body(("html",)).get_content().strip() == "<p>html body</p>"  # type: ignore[union-attr]
    assert [part.get_filename() for part in email.iter_attachments()] == ["data.csv"]


def test_starttls_with_login(
    make_app: t.Any, start_server: StartServer, server_tls_context: ssl.SSLContext, ca_file: Path
) -> None:
    server = start_server(
        tls_context=server_tls_context, require_starttls=True, credentials={"mailer": "s3cret"}, require_auth=True
    )
    app = app_for(
        make_app, server, MAIL_SMTP_CA_FILE=str(ca_file), MAIL_SMTP_USERNAME="mailer", MAIL_SMTP_PASSWORD="s3cret"
    )
    assert send(Message("over starttls", to="a@example.com", body="x"), app=app).sent
    [received] = server.messages
    assert received.tls
    assert received.login == "mailer"


def test_implicit_tls(
    make_app: t.Any, start_server: StartServer, server_tls_context: ssl.SSLContext, ca_file: Path
) -> None:
    server = start_server(tls_context=server_tls_context, implicit_tls=True, credentials={"mailer": "s3cret"})
    app = app_for(
        make_app, server, MAIL_SMTP_CA_FILE=str(ca_file), MAIL_SMTP_USERNAME="mailer", MAIL_SMTP_PASSWORD="s3cret"
    )
    assert app.config["MAIL_SMTP_SECURITY"] == "ssl"
    assert send(Message("over tls", to="a@example.com", body="x"), app=app).sent
    [received] = server.messages
    assert received.login == "mailer"


def test_untrusted_certificate_is_refused(
    make_app: t.Any, start_server: StartServer, server_tls_context: ssl.SSLContext
) -> None:
    server = start_server(tls_context=server_tls_context)
    app = app_for(make_app, server)  # the system's CAs do not know the throwaway CA
    with pytest.raises(SendError, match="CERTIFICATE_VERIFY_FAILED") as caught:
        send(Message("x", to="a@example.com"), app=app)
    assert isinstance(caught.value.__cause__, ssl.SSLError)
    assert server.messages == []


def test_verify_off_accepts_an_untrusted_certificate(
    make_app: t.Any, start_server: StartServer, server_tls_context: ssl.SSLContext
) -> None:
    server = start_server(tls_context=server_tls_context)
    app = app_for(make_app, server, MAIL_SMTP_VERIFY=False)
    assert send(Message("x", to="a@example.com"), app=app).sent


def test_server_requiring_starttls_refuses_plain(
    make_app: t.Any, start_server: StartServer, server_tls_context: ssl.SSLContext
) -> None:
    server = start_server(tls_context=server_tls_context, require_starttls=True)
    app = app_for(make_app, server, MAIL_SMTP_SECURITY="none")
    with pytest.raises(SendError, match="STARTTLS"):
        send(Message("x", to="a@example.com"), app=app)


def test_wrong_password_is_reported(
    make_app: t.Any, start_server: StartServer, server_tls_context: ssl.SSLContext, ca_file: Path
) -> None:
    server = start_server(tls_context=server_tls_context, credentials={"mailer": "s3cret"}, require_auth=True)
    app = app_for(
        make_app, server, MAIL_SMTP_CA_FILE=str(ca_file), MAIL_SMTP_USERNAME="mailer", MAIL_SMTP_PASSWORD="wrong"
    )
    with pytest.raises(SendError, match="SMTPAuthenticationError") as caught:
        send(Message("x", to="a@example.com"), app=app)
    assert "wrong" not in str(caught.value)
    assert server.messages == []


def test_refused_recipients(make_app: t.Any, smtp_server: SMTPTestServer) -> None:
    smtp_server.refuse.add("ghost@example.com")
    app = app_for(make_app, smtp_server)
    result = send(Message("x", to=["ada@example.com", "ghost@example.com"]), app=app)
    assert result.sent
    assert result.refused["ghost@example.com"][0] == 550
    with pytest.raises(SendError, match="SMTPRecipientsRefused"):
        send(Message("y", to="ghost@example.com"), app=app)


def test_connection_refused(make_app: t.Any) -> None:
    app = make_app(
        ["mail"], {"MAIL_DEFAULT_SENDER": SENDER, "MAIL_BACKEND": "smtp", "MAIL_SMTP_HOST": "127.0.0.1",
                   "MAIL_SMTP_PORT": free_port()}
    )  # fmt: skip
    with pytest.raises(SendError, match="ConnectionRefusedError") as caught:
        send(Message("x", to="a@example.com"), app=app)
    assert caught.value.result.status == "failed"  # type: ignore[attr-defined]


def test_timeout(make_app: t.Any) -> None:
    # A server that accepts connections (the kernel does, into the backlog) but never greets.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        app = make_app(
            ["mail"],
            {
                "MAIL_DEFAULT_SENDER": SENDER,
                "MAIL_BACKEND": "smtp",
                "MAIL_SMTP_HOST": "127.0.0.1",
                "MAIL_SMTP_PORT": silent.getsockname()[1],
                "MAIL_SMTP_TIMEOUT": 0.3,
            },
        )
        with pytest.raises(SendError, match="timed out"):
            send(Message("x", to="a@example.com"), app=app)


def test_default_ports(make_app: t.Any) -> None:
    from erlen_mail import SMTPBackend

    for security, port in (("none", 25), ("starttls", 587), ("ssl", 465)):
        app = make_app(["mail"], {"MAIL_SMTP_SECURITY": security})
        assert SMTPBackend(app).port == port


def test_send_raw_staged_holds_the_end_until_before_end_returns(make_app: t.Any, smtp_server: SMTPTestServer) -> None:
    """Everything but the final dot reaches the server before ``before_end`` is called: the server has
    not received the message then, and does once the call returned."""
    from erlen_mail.backends.smtp import SMTPBackend

    app = app_for(make_app, smtp_server)
    data = Message("Staged", to="ada@example.com", body="Body", sender=SENDER).to_bytes()
    seen: list[int] = []
    with SMTPBackend(app) as backend:
        refused = backend.send_raw_staged(
            "noreply@example.com", ["ada@example.com"], data, lambda: seen.append(len(smtp_server.messages))
        )
    assert refused == {} and seen == [0]
    [received] = smtp_server.messages
    assert received.data.replace(b"\r\n", b"\n") == data.replace(b"\r\n", b"\n")


def test_send_raw_staged_abandons_the_message_when_before_end_raises(
    make_app: t.Any, smtp_server: SMTPTestServer
) -> None:
    """``before_end`` raising: the end is never written, the connection is dropped, nothing is delivered,
    and the failure is certain (not ``delivery_uncertain``); the next message goes over a new connection."""
    from erlen_mail.backends.smtp import SMTPBackend

    class Refused(Exception):
        pass

    def refuse() -> None:
        raise Refused("not now")

    app = app_for(make_app, smtp_server)
    data = Message("Abandoned", to="ada@example.com", body="Body", sender=SENDER).to_bytes()
    backend = SMTPBackend(app)
    try:
        with pytest.raises(Refused) as raised:
            backend.send_raw_staged("noreply@example.com", ["ada@example.com"], data, refuse)
        assert backend.connection is None and not backend.delivery_uncertain(raised.value)
        backend.send_raw("noreply@example.com", ["bob@example.com"], data)
    finally:
        backend.close()
    assert [message.recipients for message in smtp_server.messages] == [["bob@example.com"]]


class RecordingSocket:
    """A connected socket whose writes are recorded, to see how a message travels."""

    def __init__(self, sock: t.Any) -> None:
        self.sock = sock
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.sock.sendall(data)

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self.sock, name)


@pytest.mark.parametrize("ready", [False, True])
def test_send_raw_staged_writes_body_and_end_together_when_the_end_is_ready(
    make_app: t.Any, smtp_server: SMTPTestServer, ready: bool
) -> None:
    """``end_ready()`` true at the body: ``before_end`` runs first and the body goes out with its end in
    one write (one wake-up of the server less); false: the body, ``before_end``, then the end alone."""
    from erlen_mail.backends.smtp import SMTPBackend

    app = app_for(make_app, smtp_server)
    data = Message("Staged", to="ada@example.com", body="Body", sender=SENDER).to_bytes()
    with SMTPBackend(app) as backend:
        backend.open()
        assert backend.connection is not None
        sock = RecordingSocket(backend.connection.sock)
        backend.connection.sock = sock
        writes_before_end: list[list[bytes]] = []
        backend.send_raw_staged(
            "noreply@example.com",
            ["ada@example.com"],
            data,
            lambda: writes_before_end.append(list(sock.writes)),
            end_ready=lambda: ready,
        )
    [seen] = writes_before_end
    body_writes = [write for write in sock.writes[sock.writes.index(b"data\r\n") + 1 :] if write != b"quit\r\n"]
    if ready:
        assert seen[-1] == b"data\r\n"  # called before any of the body was written
        assert len(body_writes) == 1 and body_writes[0].endswith(b"Body\r\n.\r\n")
    else:
        assert seen[-1].endswith(b"Body\r\n")  # the body is out, the end is not
        assert len(body_writes) == 2 and body_writes[-1] == b".\r\n"
    [received] = smtp_server.messages
    assert received.data.replace(b"\r\n", b"\n") == data.replace(b"\r\n", b"\n")


@pytest.mark.parametrize("reply", ["451 4.3.0 Try again later", "554 5.7.1 Not now", "421 4.3.2 Closing"])
def test_a_refused_data_command_leaves_the_connection_usable(
    make_app: t.Any, smtp_server: SMTPTestServer, reply: str
) -> None:
    """A refusal of ``DATA`` (before the body) is the message's failure, not uncertain, and not the next
    one's: the transaction is reset (or, after a 421, the connection dropped), so the next message's
    ``MAIL FROM`` is not refused as nested."""
    import smtplib

    from erlen_mail.state import state_of

    app = app_for(make_app, smtp_server)
    backend = state_of(app).make_backend()
    smtp_server.faults["DATA"] = reply
    try:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            backend.send_raw("noreply@example.com", ["ada@example.com"], b"Subject: first\r\n\r\nfirst\r\n")
        assert caught.value.smtp_code == int(reply[:3])
        assert not backend.delivery_uncertain(caught.value)
        assert backend.send_raw("noreply@example.com", ["bob@example.com"], b"Subject: next\r\n\r\nnext\r\n") == {}
    finally:
        backend.close()
    [received] = smtp_server.messages
    assert received.recipients == ["bob@example.com"]


@pytest.mark.parametrize("reply", ["421 4.3.2 Service not available", HANG_UP])
def test_a_greeting_refusal_sends_nothing(make_app: t.Any, smtp_server: SMTPTestServer, reply: str) -> None:
    """A server refusing service at the greeting (a 421, or hanging up): the send fails, nothing was handed
    over, and the next send, over a new connection, goes through."""
    app = app_for(make_app, smtp_server)
    smtp_server.faults["GREETING"] = reply
    error = "SMTPConnectError" if reply != HANG_UP else "SMTPServerDisconnected"
    with pytest.raises(SendError, match=error) as caught:
        send(Message("x", to="a@example.com"), app=app)
    assert caught.value.result.status == "failed"  # type: ignore[attr-defined]
    assert smtp_server.messages == [] and smtp_server.faults == {}
    assert send(Message("y", to="a@example.com"), app=app).sent
    assert len(smtp_server.messages) == 1
