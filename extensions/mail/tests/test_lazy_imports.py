"""What a worker that does not use it never imports: the standard library's email policies (imported with the
first message) and the backends other than ``MAIL_BACKEND``'s."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def test_email_policy_is_imported_with_the_first_message(tmp_path: Path) -> None:
    # A fresh interpreter: what a worker that creates the app (and sends no mail) has imported.
    script = textwrap.dedent(
        """
        import sys
        import erlen
        from erlen_mail import Attachment, Message

        app = erlen.create_app(
            "mailer",
            {"PLUGINS": ["mail"], "MAIL_BACKEND": "memory", "MAIL_DEFAULT_SENDER": "app@example.com"},
            environ={},
        )
        print("email.policy" in sys.modules)
        message = Message(
            subject="Caf\\u00e9 " + "long words " * 12,
            to=["Z\\u00fcrich <z@example.com>"],
            body="Hello",
            sender="app@example.com",
            attachments=[Attachment("notes.txt", b"abc", "text/plain")],
        )
        data = message.to_bytes()
        print("email.policy" in sys.modules)
        print(message.to_email()["Subject"] == message.subject)
        print(b"Subject: =?utf-8?" in data and b"\\r\\n " in data)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    before, after, parsed_back, folded = out.stdout.split()
    assert before == "False"
    assert after == "True"
    assert parsed_back == "True"
    assert folded == "True"


#: erlen-mail's backends, by ``MAIL_BACKEND`` name, and their modules.
BACKEND_MODULES = {name: f"erlen_mail.backends.{name}" for name in ("smtp", "console", "file", "memory", "null")}


@pytest.mark.parametrize("backend", sorted(BACKEND_MODULES))
def test_a_process_imports_only_the_backend_it_uses(tmp_path: Path, backend: str) -> None:
    # A fresh interpreter: what a worker has imported after creating the app and sending a message.
    script = textwrap.dedent(
        """
        import json, sys
        import erlen
        from erlen_mail import Message, send, state_of

        app = erlen.create_app(
            "mailer",
            {"PLUGINS": ["mail"], "MAIL_BACKEND": sys.argv[1], "MAIL_DEFAULT_SENDER": "app@example.com",
             "MAIL_FILE_PATH": sys.argv[2], "MAIL_CONSOLE_STREAM": "stderr", "MAIL_SMTP_PORT": 9},
            environ={},
        )
        created = sorted(sys.modules)
        sent = None
        if sys.argv[1] != "smtp":  # nothing listens on port 9: creating the app is what matters there
            with app.app_context():
                sent = send(Message(subject="Hi", to=["z@example.com"], body="Hello")).status
        print(json.dumps({"created": created, "sent": sent, "class": state_of(app).make_backend().__class__.__name__,
                          "outbox": len(state_of(app).outbox)}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, backend, str(tmp_path / "mail")],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    seen = json.loads(out.stdout.splitlines()[-1])
    imported = {name: module in seen["created"] for name, module in BACKEND_MODULES.items()}
    assert imported == {name: name == backend for name in BACKEND_MODULES}
    assert seen["class"].lower().startswith(backend)
    if backend != "smtp":
        assert seen["sent"] == "sent"
    assert seen["outbox"] == (1 if backend == "memory" else 0)
    if backend == "file":
        assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


def test_the_backends_are_importable_from_the_package() -> None:
    import erlen_mail
    from erlen_mail import backends
    from erlen_mail.backends.smtp import SMTPBackend

    assert erlen_mail.SMTPBackend is backends.SMTPBackend is SMTPBackend
    for name in ("ConsoleBackend", "FileBackend", "MemoryBackend", "NullBackend", "SMTPBackend"):
        backend = getattr(erlen_mail, name)
        assert issubclass(backend, erlen_mail.Backend) and backend.__name__ == name
    assert sorted(backends.Backends(backends.BUILTIN_BACKENDS).items()) == [
        ("console", erlen_mail.ConsoleBackend),
        ("file", erlen_mail.FileBackend),
        ("memory", erlen_mail.MemoryBackend),
        ("null", erlen_mail.NullBackend),
        ("smtp", erlen_mail.SMTPBackend),
    ]
