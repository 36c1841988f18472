"""/healthz and /readyz: answers, timeouts, caching, what is (not) shown, configuration errors."""

from __future__ import annotations

import math
import threading
import time
import typing as t
from collections.abc import Mapping
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


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        # A password holding '@' (as URL-quoted passwords often are not): the part after it was logged.
        ("cannot reach postgresql://admin:hunt@er2@db.internal/prod", "postgresql://admin:***@db.internal/prod"),
        # libpq's and redis-py's other spellings: a password= parameter, a key=value DSN.
        ("cannot reach postgresql://db.internal/prod?user=admin&password=hunter2", "prod?user=admin&password=***"),
        ("connection failed: host=db.internal user=admin password=hunter2", "user=admin password=***"),
    ],
)
def test_a_failing_checks_logged_message_hides_every_spelling_of_a_password(
    make_app: MakeApp, caplog: pytest.LogCaptureFixture, message: str, shown: str
) -> None:
    app = make_app(PLUGINS, {"OPS_READY_CACHE": 0})
    app.extensions["sample"]["mode"] = "fail"
    app.extensions["sample"]["message"] = message
    assert app.test_client().get("/readyz").status_code == 503
    assert shown in caplog.text
    assert "hunter2" not in caplog.text and "er2" not in caplog.text


class _BrokenMapping(Mapping[str, float]):
    """A mapping whose reading raises, as a lazily loaded result object might."""

    def __getitem__(self, key: str) -> float:
        raise LookupError("the result set was closed")

    def __iter__(self) -> t.Iterator[str]:
        raise LookupError("the result set was closed")

    def __len__(self) -> int:
        return 1


class _UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot describe itself")


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        # math.isfinite raised OverflowError for an int beyond a float's range, outside the check's guard.
        ("odd", {"depth": 10**400, "rows": 3}, {"status": "ok", "rows": 3, "time_ms": ANY}),
        ("odd", _BrokenMapping(), {"status": "fail", "error": "LookupError", "time_ms": ANY}),
        # Logging the failure called str() on it, outside the check's guard.
        ("unprintable", _UnprintableError(), {"status": "fail", "error": "_UnprintableError", "time_ms": ANY}),
    ],
)
def test_a_check_broken_in_new_ways_is_answered_for_not_a_500_or_a_timeout(
    make_app: MakeApp, mode: str, value: object, expected: dict[str, t.Any]
) -> None:
    """A check returning numbers that cannot be read as floats or a mapping that raises when read, or raising an
    exception that cannot be printed: its result says so; the answer is a 503 (or 200) naming it, not a 500,
    and the check is not reported as hanging (its thread died without an outcome)."""
    app = make_app(PLUGINS, {"OPS_READY_CACHE": 0, "OPS_READY_TIMEOUT": 30})
    state = app.extensions["sample"]
    state["mode"] = mode
    state["returned" if mode == "odd" else "error"] = value
    response = app.test_client().get("/readyz")
    assert response.status_code == (200 if expected["status"] == "ok" else 503)
    assert response.get_json()["checks"]["sample.queue"] == expected


def test_a_hung_check_times_out_and_the_answer_comes_in_time(make_app: MakeApp) -> None:
    """The answer does not wait for a hung check: the check is still waiting (its "waited" event not set) when the
    answer arrives, reported as a timeout; released, its wait ends."""
    app = make_app(PLUGINS, {"OPS_READY_TIMEOUT": 0.3, "OPS_READY_CACHE": 0})
    state = app.extensions["sample"]
    state["mode"] = "hang"
    try:
        response = app.test_client().get("/readyz")
        assert not state["waited"].is_set(), "the answer waited until the hung check ended"
    finally:
        state["release"].set()
    assert response.status_code == 503
    assert response.get_json()["checks"]["sample.queue"]["status"] == "timeout"
    assert state["waited"].wait(30), "the released check never ended its wait"


def test_a_hung_check_is_not_started_again_while_it_runs(make_app: MakeApp) -> None:
    """Probes while a check hangs: each answer says it timed out, but it runs on one thread, not one more per
    answer (which would pile up until the process could start no thread); once it ends, the next answer
    runs it again."""
    app = make_app(PLUGINS, {"OPS_READY_TIMEOUT": 0.05, "OPS_READY_CACHE": 0})
    state = app.extensions["sample"]
    state["mode"] = "hang"
    client = app.test_client()

    def check_threads() -> list[threading.Thread]:
        return [thread for thread in threading.enumerate() if thread.name == "erlen-ops-check-sample.queue"]

    try:
        for _ in range(5):
            response = client.get("/readyz")
            assert response.status_code == 503
            assert response.get_json()["checks"]["sample.queue"]["status"] == "timeout"
        # Thread.start returns once the thread runs, but its check may not have counted its call yet.
        deadline = time.monotonic() + 10
        while state["calls"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(check_threads()) == 1
        assert state["calls"] == 1
    finally:
        state["release"].set()
    for thread in check_threads():
        thread.join(10)
    state["mode"] = "ok"
    # Time enough for the check on a loaded machine: within 0.05 s, a slow start would be a timeout and a 503.
    from erlen_ops import state_of

    checker = state_of(app).checker
    assert checker is not None
    checker._calls.timeout = 30
    assert client.get("/readyz").status_code == 200
    assert state["calls"] == 2


def test_a_check_raising_system_exit_fails_and_is_named(make_app: MakeApp, caplog: pytest.LogCaptureFixture) -> None:
    """A check that raises SystemExit (not an Exception) is a failure named by its type, not a timeout."""
    app = make_app(PLUGINS, {"OPS_READY_TIMEOUT": 30, "OPS_READY_CACHE": 0})
    app.extensions["sample"]["mode"] = "exit"
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["sample.queue"] == {"status": "fail", "error": "SystemExit", "time_ms": ANY}
    assert "Readiness check sample.queue failed: SystemExit" in caplog.text


@pytest.mark.parametrize("key", ["OPS_READY_TIMEOUT", "OPS_READY_CACHE"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0])
def test_a_number_of_seconds_that_is_not_finite_names_the_setting(make_app: MakeApp, key: str, value: float) -> None:
    """NaN passed the old "greater than 0" check (a timeout of NaN, a cache kept forever); infinity made /readyz a
    500 (no lock waits that long)."""
    with pytest.raises(erlen.SettingError, match=rf"{key}.*must be a number of seconds, finite and"):
        make_app(PLUGINS, {key: value})


def test_a_timeout_longer_than_a_thread_can_be_waited_for_names_the_setting(make_app: MakeApp) -> None:
    """Beyond threading.TIMEOUT_MAX, every /readyz raised OverflowError (a 500)."""
    with pytest.raises(erlen.SettingError, match=r"OPS_READY_TIMEOUT.*finite and at most \d+"):
        make_app(PLUGINS, {"OPS_READY_TIMEOUT": threading.TIMEOUT_MAX * 2})


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"OPS_READY_PATH": "/healthz"}, "OPS_READY_PATH"),
        ({"OPS_METRICS": True, "OPS_METRICS_PATH": "/readyz"}, "OPS_METRICS_PATH"),
        ({"OPS_METRICS": True, "OPS_HEALTH_PATH": "/metrics"}, "OPS_METRICS_PATH"),
    ],
)
def test_two_endpoints_on_one_path_name_the_settings(make_app: MakeApp, config: dict[str, t.Any], key: str) -> None:
    """One of them would never answer (/readyz answered as /healthz: always ready)."""
    with pytest.raises(erlen.SettingError, match=rf"{key} of plugin 'ops' is '/.*', the path of OPS_\w+_PATH too"):
        make_app(PLUGINS, config)


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
