"""Metrics across two real gunicorn workers: one scrape shows the sum of both."""

from __future__ import annotations

import collections
import concurrent.futures
import os
import signal
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from erlen.testing import free_port

pytest.importorskip("gunicorn", reason="the multiprocess test runs gunicorn")

HERE = Path(__file__).parent


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return t.cast(bytes, response.read()).decode()


def _wait_until_up(url: str, server: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"gunicorn exited: {log.read_text()}")
        try:
            _get(url)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError("gunicorn did not answer within 60 seconds")


def test_one_scrape_sums_the_requests_of_both_workers(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "PYTHONPATH": str(HERE)}
    command = [
        sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
        "--config", str(HERE / "ops_gunicorn_conf.py"), "--chdir", str(HERE), "ops_gunicorn_app:app",
    ]  # fmt: skip
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/healthz", server, log, time.monotonic() + 60)
        answered: collections.Counter[str] = collections.Counter()
        deadline = time.monotonic() + 60
        # Parallel requests keep one worker busy while the other accepts; stop once both answered a few.
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            while (len(answered) < 2 or min(answered.values()) < 5) and time.monotonic() < deadline:
                for pid in pool.map(lambda _: _get(f"{base}/pid"), range(8)):
                    answered[pid] += 1
        assert len(answered) == 2, f"only one worker answered: {answered}"
        body = _get(f"{base}/metrics")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    counted = {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "erlen_http_request_duration_seconds_count" and sample.labels.get("endpoint") == "pid"
    }
    assert counted == {"200": sum(answered.values())}, (counted, answered)
    assert len(list(metrics_dir.glob("histogram_*.db"))) == 2  # each worker wrote its own file


def _in_flight(body: str) -> float:
    values = [
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "erlen_http_requests_in_flight"
    ]
    assert len(values) == 1, body  # one series: the workers' values summed
    return values[0]


def _start_gunicorn(tmp_path: Path, metrics_dir: Path, wait_dir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PYTHONPATH": str(HERE),
        "OPS_TEST_WAIT_DIR": str(wait_dir),
    }
    command = [
        sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
        "--config", str(HERE / "ops_gunicorn_conf.py"), "--chdir", str(HERE), "ops_gunicorn_app:app",
    ]  # fmt: skip
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    _wait_until_up(f"{base}/healthz", server, log, time.monotonic() + 60)
    return server, base, log


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _wait_for(condition: t.Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} seconds: {what}")
        time.sleep(0.05)


def test_requests_in_flight_summed_over_workers(tmp_path: Path) -> None:
    metrics_dir, wait_dir = tmp_path / "prometheus", tmp_path / "wait"
    metrics_dir.mkdir()
    wait_dir.mkdir()
    server, base, _log = _start_gunicorn(tmp_path, metrics_dir, wait_dir)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(_get, f"{base}/wait")
            _wait_for(lambda: (wait_dir / "started").exists(), "/wait started")
            # One worker is busy with /wait: the other answers the scrape, which reads both workers' files.
            assert _in_flight(_get(f"{base}/metrics")) == 1
            (wait_dir / "release").touch()
            assert waiting.result(timeout=30) == "released"
        assert _in_flight(_get(f"{base}/metrics")) == 0
    finally:
        _stop(server)


def test_a_dead_worker_leaves_no_request_in_flight(tmp_path: Path) -> None:
    metrics_dir, wait_dir = tmp_path / "prometheus", tmp_path / "wait"
    metrics_dir.mkdir()
    wait_dir.mkdir()
    server, base, _log = _start_gunicorn(tmp_path, metrics_dir, wait_dir)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(_get, f"{base}/wait")
            _wait_for(lambda: (wait_dir / "started").exists(), "/wait started")
            assert _in_flight(_get(f"{base}/metrics")) == 1
            # The worker dies in the middle of the request; gunicorn's arbiter calls child_exit and starts another.
            os.kill(int((wait_dir / "started").read_text()), signal.SIGKILL)
            with pytest.raises((urllib.error.URLError, ConnectionError)):
                waiting.result(timeout=30)
        _wait_for(lambda: _in_flight(_get(f"{base}/metrics")) == 0, "the dead worker's request left the sum")
    finally:
        _stop(server)
