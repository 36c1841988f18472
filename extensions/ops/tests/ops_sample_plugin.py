"""A plugin with readiness checks and a metric of its own, steered by the test through its state."""

from __future__ import annotations

import threading
import typing as t

from flask import Flask

import erlen

PLUGIN = erlen.Plugin(name="sample")


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    # "release" ends a hanging check's wait; "waited" is set when that wait ends (released or after 30 s).
    app.extensions["sample"] = {
        "calls": 0,
        "mode": "ok",
        "release": threading.Event(),
        "waited": threading.Event(),
        "jobs": None,
    }

    @app.route("/hello")
    def hello() -> str:
        jobs = app.extensions["sample"]["jobs"]
        if jobs is not None:
            jobs.inc()
        return "Hello, World!"

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("boom")


@erlen.hookimpl(optionalhook=True)
def erlen_health_checks(app: Flask) -> dict[str, t.Callable[[], t.Any]]:
    state = app.extensions["sample"]

    def queue() -> dict[str, t.Any]:
        state["calls"] += 1
        if state["mode"] == "fail":
            raise ConnectionError(state.get("message", "cannot reach postgresql://admin:hunter2@db.internal/prod"))
        if state["mode"] == "hang":
            state["release"].wait(30)
            state["waited"].set()
        if state["mode"] == "exit":
            raise SystemExit(3)  # a check calling sys.exit(), or a library doing so
        if state["mode"] == "odd":
            return state["returned"]  # what a test chose: a mapping of a new kind
        if state["mode"] == "unprintable":
            raise state["error"]
        return {"depth": 7, "label": "not a number", "flag": True}

    return {"queue": queue}


@erlen.hookimpl(optionalhook=True)
def erlen_ops_metrics(app: Flask, metrics: t.Any) -> None:
    state = app.extensions["sample"]
    state["jobs"] = metrics.counter("erlen_sample_jobs_total", "Jobs the sample ran.")
    metrics.on_scrape("erlen_sample_queue_depth", "Jobs waiting.", lambda: 3)
    metrics.on_scrape("erlen_sample_broken", "A gauge whose reading fails.", lambda: 1 / 0)
