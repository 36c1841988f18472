"""A plugin for the tests: implements every erlen-mail hook, steered by the app's config."""

from __future__ import annotations

import typing as t

from flask import current_app

import erlen
from erlen_mail import Backend, Message, SendResult

PLUGIN = erlen.Plugin(name="hooktest", requires=["mail"])


def _record(*event: object) -> None:
    current_app.extensions.setdefault("hooktest", []).append(event)


class RecordingBackend(Backend):
    def send(self, message: Message) -> None:
        if "boom" in message.subject:
            raise ConnectionError("the provider is down")
        _record("delivered", message.subject)


@erlen.hookimpl
def erlen_mail_backends() -> dict[str, type[Backend]]:
    return {"recording": RecordingBackend}


@erlen.hookimpl
def erlen_mail_before_send(message: Message) -> t.Any:
    mode = current_app.config.get("HOOKTEST_MODE")
    _record("before", message.subject)
    if mode == "cancel" and "cancel" in message.subject:
        return False
    if mode == "alter":
        message.subject += " [altered]"
        message.headers["X-Altered"] = "yes"
    if mode == "raise":
        raise RuntimeError("the hook exploded")
    if mode == "inject":
        message.headers["X-Evil"] = "a\r\nBcc: evil@example.com"
    return None


@erlen.hookimpl
def erlen_mail_after_send(message: Message, result: SendResult) -> None:
    _record("after", message.subject, result.status)
    if current_app.config.get("HOOKTEST_AFTER_RAISES"):
        raise RuntimeError("after hook exploded")


@erlen.hookimpl
def erlen_mail_send_failed(message: Message, error: BaseException) -> None:
    _record("failed", message.subject, type(error).__name__)
