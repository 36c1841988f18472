from __future__ import annotations

import typing as t

from erlen.checks import run_checks


def ids(app: t.Any, deploy: bool = True) -> set[str]:
    # mail.I002 (the outbox is off without db) is tested on its own.
    return {m.id for m in run_checks(app, deploy=deploy) if m.plugin == "mail" and m.id != "mail.I002"}


def test_outbox_off_without_db_is_noted(make_app: t.Any) -> None:
    [message] = [m for m in run_checks(make_app(["mail"]), deploy=False) if m.id == "mail.I002"]
    assert "outbox is off" in message.message and "'db'" in (message.hint or "")


def test_no_default_sender_is_noted(make_app: t.Any) -> None:
    assert ids(make_app(["mail"]), deploy=False) == {"mail.I001"}
    assert ids(make_app(["mail"], {"MAIL_DEFAULT_SENDER": "a@example.com"}), deploy=False) == set()


def test_non_delivering_backend_in_production(make_app: t.Any) -> None:
    for backend in ("console", "memory", "null", "file"):
        app = make_app(["mail"], {"MAIL_BACKEND": backend, "MAIL_DEFAULT_SENDER": "a@example.com"})
        assert ids(app) == {"mail.W001"}
        assert ids(app, deploy=False) == set()


def test_local_plain_smtp_is_fine(make_app: t.Any) -> None:
    app = make_app(["mail"], {"MAIL_BACKEND": "smtp", "MAIL_DEFAULT_SENDER": "a@example.com"})
    assert ids(app) == set()


def test_remote_smtp_without_tls(make_app: t.Any) -> None:
    app = make_app(
        ["mail"],
        {
            "MAIL_BACKEND": "smtp",
            "MAIL_DEFAULT_SENDER": "a@example.com",
            "MAIL_SMTP_HOST": "smtp.example.com",
            "MAIL_SMTP_USERNAME": "user",
            "MAIL_SMTP_PASSWORD": "pw-not-shown",
        },
    )
    [message] = [m for m in run_checks(app, deploy=True) if m.plugin == "mail" and m.id != "mail.I002"]
    assert message.id == "mail.W002"
    assert "password is sent in the clear" in message.message
    assert "pw-not-shown" not in str(message)


def test_verify_off_and_missing_password(make_app: t.Any) -> None:
    app = make_app(
        ["mail"],
        {
            "MAIL_BACKEND": "smtp",
            "MAIL_DEFAULT_SENDER": "a@example.com",
            "MAIL_SMTP_HOST": "smtp.example.com",
            "MAIL_SMTP_SECURITY": "starttls",
            "MAIL_SMTP_VERIFY": False,
            "MAIL_SMTP_USERNAME": "user",
        },
    )
    assert ids(app) == {"mail.W003", "mail.W004"}


def test_password_setting_is_secret(make_app: t.Any) -> None:
    import erlen

    app = make_app(["mail"], {"MAIL_SMTP_PASSWORD": "pw"})
    assert erlen.plugins_of(app).settings["MAIL_SMTP_PASSWORD"].setting.secret


def test_outbox_lease_too_short_to_survive_a_database_pause(make_app: t.Any) -> None:
    app = make_app(["mail"], {"MAIL_DEFAULT_SENDER": "a@example.com", "MAIL_OUTBOX_LEASE_SECONDS": 2.0})
    assert ids(app, deploy=False) == {"mail.W005"}
    # The default lease is short (a crashed worker's mail waits at most that long) yet no warning:
    # the worker renews it while it sends, however slow the SMTP server.
    assert ids(make_app(["mail"], {"MAIL_DEFAULT_SENDER": "a@example.com"}), deploy=False) == set()
