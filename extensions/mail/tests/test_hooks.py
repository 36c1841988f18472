from __future__ import annotations

import logging
import typing as t

import pytest
from flask import Flask

from erlen_mail import HeaderInjectionError, Message, SendError, send, send_many
from erlen_mail.testing import outbox_of

SENDER = "Erlen <noreply@example.com>"


def hook_app(make_app: t.Any, **config: t.Any) -> Flask:
    return t.cast(Flask, make_app(["mail", "hooktest_plugin"], {"MAIL_DEFAULT_SENDER": SENDER, **config}))


def events(app: Flask) -> list[tuple[object, ...]]:
    return t.cast(list[tuple[object, ...]], app.extensions.get("hooktest", []))


def test_before_and_after_send(make_app: t.Any) -> None:
    app = hook_app(make_app)
    outbox = outbox_of(app)
    with app.app_context():
        send(Message("Hello", to="a@example.com"))
    assert events(app) == [("before", "Hello"), ("after", "Hello", "sent")]
    assert len(outbox) == 1


def test_before_send_sees_the_prepared_message(make_app: t.Any) -> None:
    app = hook_app(make_app, HOOKTEST_MODE="alter")
    outbox = outbox_of(app)
    with app.app_context():
        result = send(Message("Hello", to="a@example.com"))
    assert result.sent
    assert outbox[0].subject == "Hello [altered]"
    assert outbox[0].headers["X-Altered"] == "yes"
    assert outbox[0].to_email()["X-Altered"] == "yes"


def test_before_send_cancels(make_app: t.Any) -> None:
    app = hook_app(make_app, HOOKTEST_MODE="cancel")
    outbox = outbox_of(app)
    with app.app_context():
        result = send(Message("please cancel", to="a@example.com"))
        bulk = send_many([Message("keep", to="a@example.com"), Message("cancel me", to="a@example.com")])
    assert result.status == "cancelled"
    assert result.error == "cancelled by plugin 'hooktest'"
    assert [r.status for r in bulk] == ["sent", "cancelled"]
    assert bulk.ok and bulk.summary() == "1 sent, 0 failed, 1 cancelled"
    assert [m.subject for m in outbox] == ["keep"]
    assert ("after", "please cancel", "sent") not in events(app)


def test_a_failing_before_hook_fails_the_message(make_app: t.Any) -> None:
    app = hook_app(make_app, HOOKTEST_MODE="raise")
    outbox = outbox_of(app)
    with app.app_context():
        with pytest.raises(SendError, match="the hook exploded") as caught:
            send(Message("x", to="a@example.com"))
        bulk = send_many([Message("y", to="a@example.com")])
    assert caught.value.result.status == "failed"  # type: ignore[attr-defined]
    assert bulk.failed[0].error is not None and "the hook exploded" in bulk.failed[0].error
    assert ("failed", "x", "PluginHookError") in events(app)
    assert outbox == []


def test_injection_added_by_a_hook_is_refused(make_app: t.Any) -> None:
    app = hook_app(make_app, HOOKTEST_MODE="inject")
    outbox = outbox_of(app)
    with app.app_context(), pytest.raises(HeaderInjectionError):
        send(Message("x", to="a@example.com"))
    assert outbox == []
    assert ("failed", "x", "HeaderInjectionError") in events(app)


def test_send_failed_hook_on_backend_error(make_app: t.Any) -> None:
    app = hook_app(make_app, MAIL_BACKEND="recording")
    with app.app_context():
        with pytest.raises(SendError, match=r"'recording' backend: ConnectionError: the provider is down"):
            send(Message("boom", to="a@example.com"))
        bulk = send_many([Message("fine", to="a@example.com"), Message("boom again", to="a@example.com")])
    assert ("failed", "boom", "ConnectionError") in events(app)
    assert [r.status for r in bulk] == ["sent", "failed"]
    assert bulk.failed[0].error == "ConnectionError: the provider is down"
    assert isinstance(bulk.failed[0].exception, ConnectionError)


def test_a_failing_after_hook_is_logged_not_raised(make_app: t.Any, caplog: pytest.LogCaptureFixture) -> None:
    app = hook_app(make_app, HOOKTEST_AFTER_RAISES=True)
    outbox = outbox_of(app)
    with app.app_context(), caplog.at_level(logging.ERROR, logger="erlen_mail"):
        result = send(Message("x", to="a@example.com"))
    assert result.sent and len(outbox) == 1
    assert "Plugin 'hooktest' failed in erlen_mail_after_send" in caplog.text
    assert "after hook exploded" in caplog.text


LISTENER = """
import erlen
from flask import current_app

PLUGIN = erlen.Plugin(name="listener", requires=["mail"])


@erlen.hookimpl
def erlen_mail_after_send(message, result):
    current_app.extensions.setdefault("hooktest", []).append(("listener after", message.subject))


@erlen.hookimpl
def erlen_mail_send_failed(message, error):
    raise RuntimeError("the listener exploded")
"""


def test_a_failing_notification_hook_does_not_silence_the_next_plugins(
    make_app: t.Any, plugins_dir: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    (plugins_dir / "listener_plugin.py").write_text(LISTENER)
    # Hooks run in PLUGINS order: hooktest raises in erlen_mail_after_send before listener's runs.
    app = make_app(
        ["mail", "hooktest_plugin", "listener_plugin"],
        {"MAIL_DEFAULT_SENDER": SENDER, "MAIL_BACKEND": "recording", "HOOKTEST_AFTER_RAISES": True},
    )
    with app.app_context(), caplog.at_level(logging.ERROR, logger="erlen_mail"):
        bulk = send_many([Message("fine", to="a@example.com"), Message("boom", to="a@example.com")])
    assert [r.status for r in bulk] == ["sent", "failed"]
    assert ("listener after", "fine") in events(app)
    assert ("failed", "boom", "ConnectionError") in events(app)
    assert "Plugin 'listener' failed in erlen_mail_send_failed" in caplog.text
    assert "Plugin 'hooktest' failed in erlen_mail_after_send" in caplog.text
