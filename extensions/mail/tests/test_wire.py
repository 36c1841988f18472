"""What goes over the wire: Message.to_bytes() parsed back, and as a real SMTP server receives it."""

from __future__ import annotations

import email.utils
import logging
import re
import typing as t
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from erlen_mail import Attachment, HeaderInjectionError, Message, MessageError, send, send_many
from erlen_mail.testing import SMTPTestServer

SENDER = "Erlen <noreply@example.com>"


def prepared(**fields: t.Any) -> Message:
    fields.setdefault("subject", "Hello")
    fields.setdefault("to", "ada@example.com")
    message = Message(**fields)
    message.prepare(SENDER)
    return message


def parse(data: bytes) -> EmailMessage:
    return t.cast(EmailMessage, message_from_bytes(data, policy=policy.default))


def assert_crlf_only(data: bytes) -> None:
    assert data.endswith(b"\r\n")
    assert re.search(rb"(?<!\r)\n", data) is None, "a bare LF"
    assert re.search(rb"\r(?!\n)", data) is None, "a bare CR"


def header_block(data: bytes) -> bytes:
    return data.split(b"\r\n\r\n", 1)[0]


def assert_header_lines_short(data: bytes) -> None:
    # Every header line of every part: 78 characters at most (folded), ASCII.
    for block in [header_block(data), *re.findall(rb"--=_[0-9a-f]+\r\n(.*?)\r\n\r\n", data, re.S)]:
        for line in block.split(b"\r\n"):
            assert len(line) <= 78, line
            assert line.isascii(), line


def full_message() -> Message:
    message = prepared(
        subject="Grüße, Zoë — ça va? " + "a long subject that has to be folded " * 3,
        to=[("Zoë Ünïcode", "zoe@example.com"), "Bob Smith <bob@example.com>", '"Smith, Al" <al@example.com>'],
        cc=["cy@example.com"],
        bcc=["secret@example.com", ("Hidden", "hidden@example.com")],
        reply_to=[("Støtte", "help@example.com")],
        headers={"X-Campaign": "spring", "X-Note": "naïve"},
        body="Hello Zoë,\n\nGrüße aus Köln.\n.\nA line that starts with a dot above.\n",
        html="<p>Hello Zoë,</p>\n<p>Grüße aus Köln.</p>\n",
    )
    message.attach("report.pdf", b"%PDF-1.4\x00\xff binary")
    message.attach("notes.txt", "some notes\nsecond line\n")
    message.attach("résumé €.pdf", b"\x00\x01")
    message.attach('we"ird name.csv', "a,b\n1,2\n")
    message.attach("logo.png", b"\x89PNG\r\n", inline=True)
    return message


def test_full_message_parses_back_identically() -> None:
    message = full_message()
    data = message.to_bytes()
    assert_crlf_only(data)
    assert_header_lines_short(data)
    email_ = parse(data)
    assert email_["From"] == SENDER
    assert [(a.display_name, a.addr_spec) for a in email_["To"].addresses] == [
        ("Zoë Ünïcode", "zoe@example.com"),
        ("Bob Smith", "bob@example.com"),
        ("Smith, Al", "al@example.com"),
    ]
    assert email_["Cc"] == "cy@example.com"
    assert [(a.display_name, a.addr_spec) for a in email_["Reply-To"].addresses] == [("Støtte", "help@example.com")]
    assert email_["Subject"] == message.subject
    assert email_["X-Campaign"] == "spring"
    assert email_["X-Note"] == "naïve"
    assert email_["Message-ID"] == message.message_id
    assert email.utils.parsedate_to_datetime(email_["Date"]) is not None
    assert email_["MIME-Version"] == "1.0"
    # bcc: in the envelope only, never in the headers or anywhere in the message
    assert email_["Bcc"] is None
    assert b"secret@example.com" not in data and b"hidden@example.com" not in data and b"Hidden" not in data
    assert message.recipients == [
        "zoe@example.com",
        "bob@example.com",
        "al@example.com",
        "cy@example.com",
        "secret@example.com",
        "hidden@example.com",
    ]

    assert email_.get_content_type() == "multipart/mixed"
    [alternative, *attachments] = email_.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html = alternative.iter_parts()
    assert plain.get_content_type() == "text/plain" and plain.get_content_charset() == "utf-8"
    assert plain.get_content().replace("\r\n", "\n") == message.body
    assert html.get_content_type() == "text/html" and html.get_content_charset() == "utf-8"
    assert html.get_content().replace("\r\n", "\n") == message.html
    assert plain["Content-Transfer-Encoding"] == "8bit"

    found = {part.get_filename(): part for part in attachments}
    assert list(found) == ["report.pdf", "notes.txt", "résumé €.pdf", 'we"ird name.csv', "logo.png"]
    assert found["report.pdf"].get_content_type() == "application/pdf"
    assert found["report.pdf"].get_content() == b"%PDF-1.4\x00\xff binary"
    assert found["report.pdf"]["Content-Transfer-Encoding"] == "base64"
    assert found["notes.txt"].get_content().replace("\r\n", "\n") == "some notes\nsecond line\n"
    assert found["résumé €.pdf"].get_content() == b"\x00\x01"
    assert found['we"ird name.csv'].get_content_type() == "text/csv"
    assert found["logo.png"].get_content_disposition() == "inline"
    assert found["logo.png"].get_content() == b"\x89PNG\r\n"
    assert all(part.get_content_disposition() in ("attachment", "inline") for part in attachments)


def test_non_ascii_headers_are_rfc2047_encoded() -> None:
    data = prepared(subject="Grüße", to=[("Zoë", "zoe@example.com")], sender="Zoë <zoe@example.org>").to_bytes()
    headers = header_block(data)
    assert headers.isascii()
    assert b"Subject: =?utf-8?" in headers
    email_ = parse(data)
    assert email_["Subject"] == "Grüße"
    assert email_["To"].addresses[0].display_name == "Zoë"
    assert email_["From"].addresses[0].display_name == "Zoë"


@pytest.mark.parametrize(
    ("fields", "content_type"),
    [
        ({"body": "only text"}, "text/plain"),
        ({"html": "<p>only html</p>"}, "text/html"),
        ({}, "text/plain"),
        ({"body": "text", "html": "<p>html</p>"}, "multipart/alternative"),
    ],
)
def test_body_structures(fields: dict[str, t.Any], content_type: str) -> None:
    data = prepared(**fields).to_bytes()
    assert_crlf_only(data)
    email_ = parse(data)
    assert email_.get_content_type() == content_type
    assert not email_.is_multipart() or [p.get_content_type() for p in email_.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


def test_body_line_endings_become_crlf() -> None:
    email_ = parse(prepared(body="unix\nwindows\r\nold mac\rend").to_bytes())
    assert email_.get_content() == "unix\r\nwindows\r\nold mac\r\nend\r\n"


def test_ascii_body_is_7bit_and_a_very_long_line_quoted_printable() -> None:
    assert parse(prepared(body="plain ascii").to_bytes())["Content-Transfer-Encoding"] == "7bit"
    long_line = "x" * 2000 + " ünïcode " + "y" * 1500
    data = prepared(body=long_line).to_bytes()
    assert_crlf_only(data)
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    email_ = parse(data)
    assert email_["Content-Transfer-Encoding"] == "quoted-printable"
    assert email_.get_content().rstrip("\r\n") == long_line


def test_long_headers_are_folded() -> None:
    recipients = [f"reader{n:03d}@example.com" for n in range(20)]
    message = prepared(to=recipients, headers={"X-Long": " ".join(["word"] * 40)})
    data = message.to_bytes()
    assert_header_lines_short(data)
    email_ = parse(data)
    assert [a.addr_spec for a in email_["To"].addresses] == recipients
    assert email_["X-Long"] == " ".join(["word"] * 40)


def test_boundaries_differ_and_do_not_occur_in_the_content() -> None:
    message = prepared(body="text", html="<p>html</p>")
    message.attach("a.txt", "attached")
    data = message.to_bytes()
    boundaries = re.findall(rb'boundary="([^"]+)"', data)
    assert len(boundaries) == 2 and boundaries[0] != boundaries[1]
    for boundary in boundaries:
        assert data.count(b"--" + boundary + b"--\r\n") == 1


def test_to_email_is_the_wire_message() -> None:
    message = full_message()
    email_ = message.to_email()
    assert isinstance(email_, EmailMessage)
    assert email_["Subject"] == message.subject
    assert email_.get_body(("plain",)).get_content() == message.body  # type: ignore[union-attr]
    assert b"\r\n" not in email_.as_bytes()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: setattr(m, "subject", "x\r\nBcc: evil@example.com"),
        lambda m: m.to.append("a@example.com\nBcc: evil@example.com"),
        lambda m: m.cc.append(("Eve\r\n", "eve@example.com")),
        lambda m: m.bcc.append("b@example.com\r"),
        lambda m: m.reply_to.append("r@example.com\n"),
        lambda m: setattr(m, "sender", "s@example.com\r\nX: y"),
        lambda m: m.headers.update({"X-Tag": "a\r\nBcc: evil@example.com"}),
        lambda m: m.headers.update({"X-Tag\r\nBcc": "evil@example.com"}),
        lambda m: m.attachments.append(Attachment("ok.txt", "x")) or setattr(m.attachments[-1], "filename", "a\n.txt"),
    ],
)
def test_to_bytes_refuses_injection_added_after_creation(mutate: t.Callable[[Message], object]) -> None:
    message = prepared(body="x")
    mutate(message)
    with pytest.raises(MessageError):  # HeaderInjectionError, or an invalid header name
        message.to_bytes()


def test_attachment_filename_with_a_line_break_is_refused() -> None:
    message = prepared(body="x")
    with pytest.raises(HeaderInjectionError):
        message.attach("evil\r\nContent-Type: text/html.txt", b"")


def test_smtp_wire_format_and_envelope(smtp_app: t.Any, smtp_server: SMTPTestServer) -> None:
    message = full_message()
    message.sender = None
    del message.headers["Message-ID"], message.headers["Date"]
    result = send(message, app=smtp_app)
    assert result.sent
    [received] = smtp_server.messages
    assert received.sender == "noreply@example.com"
    assert received.recipients == message.recipients
    assert b"secret@example.com" not in received.data and b"hidden@example.com" not in received.data
    assert_crlf_only(received.data)
    assert "BODY=8BITMIME" in received.mail_options  # 8bit text, and aiosmtpd supports it
    email_ = received.email
    assert email_["Subject"] == message.subject
    assert email_["Message-ID"] == message.message_id
    plain = email_.get_body(("plain",))
    assert plain is not None and plain.get_content().replace("\r\n", "\n") == message.body  # the lone "." survived
    assert [part.get_filename() for part in email_.iter_attachments()] == [a.filename for a in message.attachments]


def test_ascii_message_declares_no_8bitmime(smtp_app: t.Any, smtp_server: SMTPTestServer) -> None:
    send(Message("ascii", to="a@example.com", body="plain"), app=smtp_app)
    assert not any(option.startswith("BODY=") for option in smtp_server.messages[0].mail_options)


def test_local_hostname_is_looked_up_once(
    monkeypatch: pytest.MonkeyPatch, make_app: t.Any, smtp_server: SMTPTestServer
) -> None:
    from erlen_mail.backends import smtp

    calls: list[int] = []
    monkeypatch.setattr(smtp.socket, "getfqdn", lambda *args: calls.append(1) or "mailer.example.com")
    smtp.local_hostname.cache_clear()
    try:
        app = make_app(["mail"], {"MAIL_DEFAULT_SENDER": SENDER, **smtp_server.config()})
        result = send_many([Message(f"m{i}", to="a@example.com") for i in range(4)], app=app, reconnect_after=1)
        assert result.ok and smtp_server.connections_used == 4
        assert len(calls) == 1
    finally:
        smtp.local_hostname.cache_clear()


def test_addresses_are_parsed_once_per_message(monkeypatch: pytest.MonkeyPatch, smtp_app: t.Any) -> None:
    from erlen_mail import message as message_module

    message_module._parse_address.cache_clear()
    parsed: list[list[str]] = []
    real = message_module.getaddresses
    monkeypatch.setattr(message_module, "getaddresses", lambda values: parsed.append(values) or real(values))
    batch = [Message(f"m{i}", to=f"u{i}@example.com", cc=f"C <c{i}@example.com>", body="x") for i in range(3)]
    assert send_many(batch, app=smtp_app).ok
    # each address string once, and the default sender once for all
    assert sorted(map(tuple, parsed)) == sorted(
        [(SENDER,)] + [(f"u{i}@example.com",) for i in range(3)] + [(f"C <c{i}@example.com>",) for i in range(3)]
    )


def test_a_failing_notification_is_logged_on_erlen_mail(make_app: t.Any, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(["mail", "hooktest_plugin"], {"MAIL_DEFAULT_SENDER": SENDER, "HOOKTEST_AFTER_RAISES": True})
    with app.app_context(), caplog.at_level(logging.WARNING):
        result = send(Message("x", to="a@example.com"))
    assert result.sent
    by_logger = {record.name for record in caplog.records}
    assert {"erlen.plugins", "erlen_mail"} <= by_logger
    assert any(
        record.name == "erlen_mail" and "failed in erlen_mail_after_send" in record.getMessage()
        for record in caplog.records
    )


def test_international_address_is_sent_with_smtputf8(smtp_app: t.Any, smtp_server: SMTPTestServer) -> None:
    result = send(Message("intl", to="zoë@exämple.com", body="x"), app=smtp_app)
    assert result.sent
    [received] = smtp_server.messages
    assert received.recipients == ["zoë@exämple.com"]
    assert "SMTPUTF8" in received.mail_options
    assert "zoë@exämple.com".encode() in header_block(received.data)  # raw UTF-8, as SMTPUTF8 allows
    assert_crlf_only(received.data)
