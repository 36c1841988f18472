"""/healthz and /readyz: answers, timeouts, caching, what is (not) shown, configuration errors."""

from __future__ import annotations

import time
import typing as t
from unittest.mock import ANY

import pytest

import erlen
from erlen.testing import MakeApp

PLUGINS = ["ops_sample_plugin", "ops"]


def test_healthz_answers_without_flask_sessions_or_plugins(make_app: MakeApp) -> None:
    app = make_app(PLUGINS)

    @app.before_request
    def broken() -> None:  # a plugin's before_request that would fail every request (a CSRF check, the database)
        raise RuntimeError("must not run for /healthz")

    client = app.test_client()
    response = client.get("/healthz", headers={"Cookie": "session=garbage"})
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    assert app.extensions["sample"]["calls"] == 0  # no check ran: liveness does no I/O
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_readyz_reports_each_check_with_its_time_and_numbers(make_app: MakeApp) -> None:
    client = make_app(PLUGINS).test_client()
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    check = body["checks"]["sample.queue"]
    assert check["status"] == "ok" and check["depth"] == 7
    assert "label" not in check and "flag" not in check  # only numbers are shown
    assert isinstance(check["time_ms"], float)


def test_a_failing_check_makes_readyz_503_without_showing_its_message(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(PLUGINS, {"OPS_READY_CACHE": 0})
    app.extensions["sample"]["mode"] = "fail"
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "fail",
        "checks": {"sample.queue": {"status": "fail", "error": "ConnectionError", "time_ms": ANY}},
    }
    assert b"hunter2" not in response.data and b"postgresql" not in response.data
    # The operator sees why in the log, with the URL's password hidden.
    assert "Readiness check sample.queue failed: ConnectionError: cannot reach postgresql://admin:***@db" in caplog.text
    assert "hunter2" not in caplog.text


def test_a_hung_check_times_out_and_the_answer_comes_in_time(make_app: MakeApp) -> None:
    app = make_app(PLUGINS, {"OPS_READY_TIMEOUT": 0.3, "OPS_READY_CACHE": 0})
    state = app.extensions["sample"]
    state["mode"] = "hang"
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    elapsed = time.monotonic() - started
    state["release"].set()
    assert response.status_code == 503
    assert response.get_json()["checks"]["sample.queue"]["status"] == "timeout"
    assert elapsed < 3, elapsed


def test_readiness_is_cached_for_a_second(make_app: MakeApp) -> None:
    app = make_app(PLUGINS, {"OPS_READY_CACHE": 1.0})
    client = app.test_client()
    for _ in range(20):
        assert client.get("/readyz").status_code == 200
    assert app.extensions["sample"]["calls"] == 1
    time.sleep(1.1)
    client.get("/readyz")
    assert app.extensions["sample"]["calls"] == 2


def test_paths_are_configurable(make_app: MakeApp) -> None:
    app = make_app(PLUGINS, {"OPS_HEALTH_PATH": "/-/alive", "OPS_READY_PATH": "/-/ready"})
    client = app.test_client()
    assert client.get("/-/alive").get_json() == {"status": "ok"}
    assert client.get("/-/ready").status_code == 200
    assert client.get("/healthz").status_code == 404
    assert client.get("/hello").data == b"Hello, World!"


def test_a_bad_path_setting_names_the_setting(make_app: MakeApp) -> None:
    with pytest.raises(erlen.SettingError, match=r"OPS_READY_PATH.*must be a path starting with '/'"):
        make_app(PLUGINS, {"OPS_READY_PATH": "readyz"})


def test_a_check_hook_returning_a_list_names_the_plugin(make_app: MakeApp, tmp_path: t.Any, monkeypatch: t.Any) -> None:
    (tmp_path / "ops_bad_checks.py").write_text(
        "import erlen\nPLUGIN = erlen.Plugin(name='bad')\n"
        "@erlen.hookimpl(optionalhook=True)\ndef erlen_health_checks(app):\n    return [lambda: None]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(erlen.PluginError, match=r"Plugin 'bad': erlen_health_checks returned list"):
        make_app(["ops_bad_checks", "ops"])


def test_a_plugin_with_checks_loads_without_ops(make_app: MakeApp) -> None:
    app = make_app(["ops_sample_plugin"])
    assert app.test_client().get("/readyz").status_code == 404
