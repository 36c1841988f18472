from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from flask import Flask

from erlen_mail import Message, MessageError, render_message, send_template
from erlen_mail.testing import outbox_of

SENDER = "Erlen <noreply@example.com>"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "app"
    (folder / "templates" / "mail").mkdir(parents=True)
    return folder


def write(root: Path, name: str, text: str) -> None:
    path = root / "templates" / "mail" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def templated_app(make_app: t.Any, root: Path) -> Flask:
    return t.cast(Flask, make_app(["mail"], {"MAIL_DEFAULT_SENDER": SENDER}, root_path=str(root)))


def test_send_template_renders_subject_text_and_html(templated_app: Flask, root: Path) -> None:
    write(root, "welcome.subject.txt", "Welcome,\n  {{ name }}!\n")
    write(root, "welcome.txt", "Hello {{ name }} & co")
    write(root, "welcome.html", "<p>Hello {{ name }}</p>")
    outbox = outbox_of(templated_app)
    with templated_app.app_context():
        result = send_template("welcome", to="ada@example.com", name="<Ada>")
    assert result.sent
    [message] = outbox
    assert message.subject == "Welcome, <Ada>!"
    assert message.body == "Hello <Ada> & co"  # text is not escaped
    assert message.html == "<p>Hello &lt;Ada&gt;</p>"  # html is
    assert message.to == ["ada@example.com"]


def test_either_body_template_may_be_absent(templated_app: Flask, root: Path) -> None:
    write(root, "a.subject.txt", "A")
    write(root, "a.txt", "text only")
    write(root, "b.subject.txt", "B")
    write(root, "b.html", "<p>html only</p>")
    with templated_app.app_context():
        a = render_message("a", to="x@example.com")
        b = render_message("b", to="x@example.com")
    assert (a.body, a.html) == ("text only", None)
    assert (b.body, b.html) == (None, "<p>html only</p>")


def test_subject_argument_and_message_fields(templated_app: Flask, root: Path) -> None:
    write(root, "note.txt", "{{ text }}")
    outbox = outbox_of(templated_app)
    send_template(
        "note",
        to="x@example.com",
        subject="Given subject",
        cc="c@example.com",
        bcc="b@example.com",
        reply_to="r@example.com",
        headers={"X-Kind": "note"},
        app=templated_app,
        text="hi",
    )
    [message] = outbox
    assert message.subject == "Given subject"
    assert (message.cc, message.bcc, message.reply_to) == (["c@example.com"], ["b@example.com"], ["r@example.com"])
    assert message.headers["X-Kind"] == "note"
    assert message.body == "hi"


def test_subfolders(templated_app: Flask, root: Path) -> None:
    write(root, "auth/reset.subject.txt", "Reset")
    write(root, "auth/reset.txt", "Use {{ link }}")
    with templated_app.app_context():
        message = render_message("auth/reset", to="x@example.com", context={"link": "http://x/reset"})
    assert message.body == "Use http://x/reset"


def test_missing_templates_are_a_clear_error(templated_app: Flask) -> None:
    with templated_app.app_context(), pytest.raises(MessageError, match=r"No mail template mail/nope\.txt"):
        send_template("nope", to="x@example.com")


def test_missing_subject_is_a_clear_error(templated_app: Flask, root: Path) -> None:
    write(root, "nosubject.txt", "x")
    with templated_app.app_context(), pytest.raises(MessageError, match=r"add the template mail/nosubject\.subject"):
        send_template("nosubject", to="x@example.com")


def test_a_missing_include_is_not_hidden(templated_app: Flask, root: Path) -> None:
    write(root, "inc.subject.txt", "x")
    write(root, "inc.txt", "{% include 'mail/missing-part.txt' %}")
    from jinja2 import TemplateNotFound

    with templated_app.app_context(), pytest.raises(TemplateNotFound, match="missing-part"):
        send_template("inc", to="x@example.com")


def test_subject_injection_through_template_is_refused(templated_app: Flask, root: Path) -> None:
    write(root, "inj.subject.txt", "{{ value }}")
    write(root, "inj.txt", "x")
    outbox = outbox_of(templated_app)
    with templated_app.app_context():
        # whitespace in the subject template is collapsed, so a line break in the value cannot inject headers
        message = render_message("inj", to="x@example.com", context={"value": "a\r\nBcc: evil@example.com"})
    assert message.subject == "a Bcc: evil@example.com"
    assert outbox == []


def test_plugin_template_and_app_override(make_app: t.Any, root: Path) -> None:
    plain = make_app(["mail"], {"MAIL_DEFAULT_SENDER": SENDER})
    with plain.app_context():
        shipped = render_message("erlen/test", to="x@example.com", context={"app_name": "demo", "backend": "memory"})
    assert shipped.subject == "Test message from demo"
    assert shipped.html is not None and "demo" in shipped.html

    write(root, "erlen/test.txt", "Overridden by the app for {{ app_name }}")
    overriding = make_app(["mail"], {"MAIL_DEFAULT_SENDER": SENDER}, root_path=str(root))
    with overriding.app_context():
        overridden = render_message("erlen/test", to="x@example.com", context={"app_name": "demo", "backend": "x"})
    assert overridden.body == "Overridden by the app for demo"
    assert overridden.subject == "Test message from demo"  # the subject still comes from the plugin


def test_render_message_returns_a_message(templated_app: Flask, root: Path) -> None:
    write(root, "m.subject.txt", "S")
    write(root, "m.txt", "T")
    message = render_message("m", to=["a@example.com", "b@example.com"], app=templated_app)
    assert isinstance(message, Message)
    assert message.to == ["a@example.com", "b@example.com"]
