"""A plugin whose ``erlen_mail_before_send`` hook fails, for as long as its app's ``MAIL_BREAKER_ON`` is true."""

from __future__ import annotations

import typing as t

from flask import current_app

import erlen

PLUGIN = erlen.Plugin(name="mail_breaker", requires=["mail"])


@erlen.hookimpl
def erlen_mail_before_send(message: t.Any) -> None:
    if current_app.config.get("MAIL_BREAKER_ON", True):
        raise RuntimeError("the mail filter is down")
