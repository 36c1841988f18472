"""ERLEN_TRACE_HOOKS=1 logs every hook call with plugin, hook and duration."""

from __future__ import annotations

import logging
import re

import pytest

import erlen
from erlen.plugins.tracing import tracing_enabled


def test_every_hook_call_is_logged(noop_plugin, caplog: pytest.LogCaptureFixture) -> None:
    plugin = noop_plugin(
        "traced",
        body="""
        @erlen.hookimpl
        def erlen_init_app(app):
            pass

        @erlen.hookimpl
        def erlen_after_request(response):
            response.headers["X-Traced"] = "1"
        """,
    )
    caplog.set_level(logging.INFO, logger="erlen.trace")
    app = erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={"ERLEN_TRACE_HOOKS": "1"})
    app.add_url_rule("/", "index", lambda: "ok")
    assert app.test_client().get("/").headers["X-Traced"] == "1"
    lines = [r.getMessage() for r in caplog.records if r.name == "erlen.trace"]
    assert any(re.fullmatch(r"erlen_init_app plugin=traced \d+\.\d{3} ms", line) for line in lines)
    assert any(re.fullmatch(r"erlen_settings plugin=erlen \d+\.\d{3} ms", line) for line in lines)
    assert any(re.fullmatch(r"erlen_after_request plugin=traced \d+\.\d{3} ms", line) for line in lines)


def test_the_first_hook_call_is_traced_too(noop_plugin, caplog: pytest.LogCaptureFixture) -> None:
    plugin = noop_plugin("specs", body="@erlen.hookimpl\ndef erlen_hookspecs():\n    return []\n")
    caplog.set_level(logging.INFO, logger="erlen.trace")
    erlen.create_app(__name__, {"PLUGINS": [plugin]}, environ={"ERLEN_TRACE_HOOKS": "1"})
    lines = [r.getMessage() for r in caplog.records if r.name == "erlen.trace"]
    assert any(line.startswith("erlen_hookspecs plugin=specs ") for line in lines)


def test_no_tracing_by_default(noop_plugin, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="erlen.trace")
    erlen.create_app(__name__, {"PLUGINS": [noop_plugin("quiet")]}, environ={})
    assert not [r for r in caplog.records if r.name == "erlen.trace"]


@pytest.mark.parametrize(("value", "enabled"), [("1", True), ("yes", True), ("0", False), ("", False), ("off", False)])
def test_switch_values(value: str, enabled: bool) -> None:
    assert tracing_enabled({"ERLEN_TRACE_HOOKS": value}) is enabled
