"""A plugin whose ``erlen_ops_metrics`` raises, after making a metric, while the test says so: erlen-ops' set-up
failing partway (after the engine was instrumented and the plugins before it made their metrics)."""

from __future__ import annotations

import typing as t

from flask import Flask

import erlen

PLUGIN = erlen.Plugin(name="flaky")


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    # gate: a threading.Event the call waits for before it fails (a queue that hangs), entered set meanwhile.
    app.extensions["flaky"] = {"fail": True, "calls": 0, "jobs": None, "gate": None, "entered": None}


@erlen.hookimpl(optionalhook=True)
def erlen_ops_metrics(app: Flask, metrics: t.Any) -> None:
    state = app.extensions["flaky"]
    state["calls"] += 1
    jobs = metrics.counter("erlen_flaky_jobs_total", "Jobs the flaky plugin ran.")
    metrics.on_scrape("erlen_flaky_backlog", "Jobs the flaky plugin has waiting.", lambda: 2)
    if state["gate"] is not None:
        state["entered"].set()
        state["gate"].wait()
    if state["fail"]:
        raise ConnectionError("the flaky plugin's queue cannot be reached")
    state["jobs"] = jobs
