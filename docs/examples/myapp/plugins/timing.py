"""Adds a Server-Timing header to every response."""

import time

from flask import g

import erlen

PLUGIN = erlen.Plugin(name="timing")


@erlen.hookimpl
def erlen_before_request():
    g.timing_started = time.perf_counter()  # per-request state goes on flask.g


@erlen.hookimpl
def erlen_after_request(response):
    elapsed = (time.perf_counter() - g.timing_started) * 1000
    response.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
