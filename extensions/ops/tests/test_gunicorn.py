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
