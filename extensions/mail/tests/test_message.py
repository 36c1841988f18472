from __future__ import annotations

import pytest

from erlen_mail import Attachment, HeaderInjectionError, Message, MessageError


def make(**fields: object) -> Message:
    fields.setdefault("subject", "Hello")
    fields.setdefault("to", "ada@example.com")
    message = Message(**fields)  # type: ignore[arg-type]
    message.prepare("Erlen <noreply@example.com>")
    return message


def test_single_address_becomes_a_list() -> None:
    assert Message(to="ada@example.com").to == ["ada@example.com"]
    assert Message(to=("Ada", "ada@example.com")).to == [("Ada", "ada@example.com")]


def test_headers_of_a_full_message() -> None:
    message = make(
        to=["ada@example.com", ("Bob Smith", "bob@example.com")],
        cc="cy@example.com",
        bcc=["dee@example.com"],
        reply_to="help@example.com",
        headers={"X-Campaign": "spring"},
        body="hi",
    )
    email = message.to_email()
    assert email["From"] == "Erlen <noreply@example.com>"
    assert email["To"] == "ada@example.com, Bob Smith <bob@example.com>"
    assert email["Cc"] == "cy@example.com"
    assert email["Reply-To"] == "help@example.com"
    assert email["Subject"] == "Hello"
    assert email["X-Campaign"] == "spring"
    assert email["Date"] and email["Message-ID"].endswith("@example.com>")
    assert email["Bcc"] is None
    assert "dee@example.com" not in email.as_string()
    assert message.recipients == ["ada@example.com", "bob@example.com", "cy@example.com", "dee@example.com"]


def test_recipients_are_deduplicated() -> None:
    message = Message(to=["a@example.com", "A <a@example.com>"], bcc="a@example.com")
    assert message.recipients == ["a@example.com"]


def test_text_with_html_alternative() -> None:
    email = make(body="plain", html="<p>rich</p>").to_email()
    assert email.get_content_type() == "multipart/alternative"
    assert email.get_body(("plain",)).get_content().strip() == "plain"  # type: ignore[union-attr]
    assert email.get_body(("html",)).get_content().strip() == "<p>rich</p>"  # type: ignore[union-attr]


def test_html_only_and_text_only() -> None:
    assert make(html="<p>x</p>").to_email().get_content_type() == "text/html"
    assert make(body="x").to_email().get_content_type() == "text/plain"


def test_attachments() -> None:
    message = make(body="see attached", html="<p>see attached</p>")
    message.attach("report.pdf", b"%PDF-1.4 data")
    message.attach("notes.txt", "some notes")
    message.attach("logo.png", b"\x89PNG", inline=True)
    email = message.to_email()
    assert email.get_content_type() == "multipart/mixed"
    parts = {part.get_filename(): part for part in email.iter_attachments()}
    assert parts["report.pdf"].get_content_type() == "application/pdf"
    assert parts["report.pdf"].get_content() == b"%PDF-1.4 data"
    assert parts["notes.txt"].get_content().strip() == "some notes"
    assert parts["logo.png"].get_content_disposition() == "inline"
    assert Attachment("x.unknownext", b"").mimetype == "application/octet-stream"


def test_non_ascii_is_encoded() -> None:
    email = make(subject="Grüße", to=[("Zoë", "zoe@example.com")], body="Grüße").to_email()
    wire = email.as_bytes()
    assert b"Gr\xc3\xbc" not in wire.split(b"\n\n", 1)[0]
    assert email["Subject"] == "Grüße"


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "Hi\r\nBcc: evil@example.com"},
        {"subject": "Hi\nthere"},
        {"to": "ada@example.com\nBcc: evil@example.com"},
        {"to": ("Ada\r\nBcc: evil@example.com", "ada@example.com")},
        {"cc": ["ok@example.com", "x@example.com\r"]},
        {"bcc": "x@example.com\n"},
        {"reply_to": "x@example.com\nX: y"},
        {"sender": "me@example.com\r\nBcc: evil@example.com"},
        {"headers": {"X-Tag": "a\nBcc: evil@example.com"}},
        {"attachments": [Attachment("a.txt", "x")], "subject": "ok\n"},
    ],
)
def test_header_injection_is_refused(fields: dict[str, object]) -> None:
    fields.setdefault("to", "ada@example.com")
    with pytest.raises(HeaderInjectionError, match="line break"):
        Message(**fields)  # type: ignore[arg-type]


def test_injection_added_after_creation_is_refused_when_built() -> None:
    message = make(body="x")
    message.subject = "changed\r\nBcc: evil@example.com"
    with pytest.raises(HeaderInjectionError):
        message.to_email()
    with pytest.raises(HeaderInjectionError):
        Attachment("a\n.txt", b"")


@pytest.mark.parametrize("name", ["Subject", "to", "Content-Type", "BCC"])
def test_managed_headers_cannot_be_set(name: str) -> None:
    with pytest.raises(MessageError, match="comes from the message's own fields"):
        Message(to="a@example.com", headers={name: "x"})


@pytest.mark.parametrize("name", ["X Bad", "X:Bad", "", "X-Tag\n", "X-Tag\r\n"])
def test_invalid_header_names(name: str) -> None:
    with pytest.raises(MessageError, match="not a valid header name"):
        Message(to="a@example.com", headers={name: "x"})


def test_prepare_needs_a_sender_and_a_recipient() -> None:
    with pytest.raises(MessageError, match="no sender"):
        Message(to="a@example.com").prepare(None)
    with pytest.raises(MessageError, match="no recipient"):
        Message(subject="x").prepare("me@example.com")


def test_prepare_keeps_given_sender_date_and_message_id() -> None:
    message = Message(
        to="a@example.com", sender="own@example.org", headers={"Message-ID": "<1@x>", "Date": "Mon, 1 Jan 2024 0:0:0"}
    )
    message.prepare("default@example.com")
    assert message.sender == "own@example.org"
    assert message.message_id == "<1@x>"
    assert message.headers["Date"] == "Mon, 1 Jan 2024 0:0:0"


@pytest.mark.parametrize(
    "fields",
    [
        {"bcc": "archive@example.com, audit@example.com"},
        {"to": ["ada@example.com", "bob@example.com, eve@example.com"]},
        {"cc": "Smith, Bob <bob@example.com>"},  # an unquoted comma: "Smith" would become a recipient
    ],
)
def test_a_string_holding_several_addresses_is_refused(fields: dict[str, object]) -> None:
    # The SMTP envelope took only the first address of such a string: the others were silently not sent to.
    fields.setdefault("to", "ada@example.com")
    with pytest.raises(MessageError, match="holds several addresses; pass them as a list"):
        Message(**fields)  # type: ignore[arg-type]


def test_a_quoted_display_name_with_a_comma_is_one_address() -> None:
    message = Message(to='"Smith, Bob" <bob@example.com>')
    assert message.recipients == ["bob@example.com"]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        # The parser would have sent these to another address than the one given, or to none.
        ({"to": "ada@example.com extra"}, "is not a valid email address \\(it reads as 'ada@example.comextra'\\)"),
        ({"to": "ada@exa mple.com"}, "is not a valid email address \\(it reads as 'ada@example.com'\\)"),
        ({"to": "not an address"}, "is not a valid email address \\(it reads as 'not'\\)"),
        ({"cc": "Ada Lovelace ada@example.com"}, "The Cc address .* is not a valid email address"),
        ({"bcc": "Ada <ada@example.com"}, "The Bcc address .* is not a valid email address"),
        ({"to": ""}, "The To address '' holds no email address"),
        ({"to": "Ada <>"}, "holds no email address"),
        ({"reply_to": "ada@"}, "The Reply-To address 'ada@' holds no email address"),
        ({"to": [("Ada", "")]}, "has '', which is not an email address"),
        ({"to": [("Ada", "ada@example.com, eve@example.com")]}, "which is not an email address"),
        ({"sender": "noreply"}, "The From address 'noreply' is not a valid email address"),
    ],
)
def test_an_address_that_is_not_valid_is_refused(fields: dict[str, object], error: str) -> None:
    fields.setdefault("to", "ada@example.com")
    with pytest.raises(MessageError, match=error) as raised:
        Message(**fields)  # type: ignore[arg-type]
    assert "use an address such as 'ada@example.com'" in str(raised.value)


@pytest.mark.parametrize(
    ("address", "envelope"),
    [
        ("ada@example.com", "ada@example.com"),
        ("Ada Lovelace <ada@example.com>", "ada@example.com"),
        ("<ada@example.com>", "ada@example.com"),
        ("ada@example.com (Ada)", "ada@example.com"),
        ('"a b"@example.com', '"a b"@example.com'),
        ("ada@[192.0.2.1]", "ada@[192.0.2.1]"),
        ("root@localhost", "root@localhost"),
        ("Ädä <ädä@exämple.com>", "ädä@exämple.com"),
        (("Lovelace, Ada", "ada+mail@example.com"), "ada+mail@example.com"),
    ],
)
def test_valid_addresses_go_to_the_address_given(address: object, envelope: str) -> None:
    assert Message(to=address).recipients == [envelope]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"to": [("Ada", "ada@example.com", "extra")]}, "must be a \\(name, email\\) pair"),
        ({"to": [(None, "ada@example.com")]}, "must be a string, not NoneType"),
        ({"sender": ("Ada", 42)}, "must be a string, not int"),
        ({"subject": 42}, "Subject header value 42 must be a string"),
    ],
)
def test_malformed_fields_are_a_message_error(fields: dict[str, object], error: str) -> None:
    fields.setdefault("to", "ada@example.com")
    with pytest.raises(MessageError, match=error):
        Message(**fields)  # type: ignore[arg-type]
