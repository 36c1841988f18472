"""A plugin after ``db`` that listens for a request's unhandled exception, as an error reporter would."""

from __future__ import annotations

import typing as t

from flask import Flask, got_request_exception

import erlen

PLUGIN = erlen.Plugin(name="exception_listener", requires=["db"])


def report_exception(sender: Flask, **extra: t.Any) -> None:
    """Record that the signal reached this plugin, after erlen-db's rollback.

    :param sender: the app whose request raised.
    :param extra: the signal's arguments.
    """
    sender.extensions.setdefault("reported_exceptions", []).append(extra.get("exception"))


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    got_request_exception.connect(report_exception, app)
