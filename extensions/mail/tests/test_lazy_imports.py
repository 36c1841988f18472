"""The standard library's email policies are imported with the first message, not by every worker."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


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
