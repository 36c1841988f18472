"""The README's example app, served by ``python -m erlen run`` as a newcomer starts it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = "examples/hello/app.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _erlen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "erlen", "--app", APP, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "erlen", "--app", APP, "run", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def test_home_page(server: str) -> None:
    assert "<h1>Hello, World!</h1>" in _get(server + "/")


def test_dynamic_route(server: str) -> None:
    assert _get(server + "/user/ada") == "User: ada"


def test_local_plugin_page_uses_its_setting_and_template(server: str) -> None:
    assert "<p>Hello, Ada &amp; co!</p>" in _get(server + "/greet/Ada%20&%20co")


def test_local_plugin_command_and_listing() -> None:
    assert _erlen("greet", "Ada").stdout == "Hello, Ada!\n"
    rows = json.loads(_erlen("plugins", "--json").stdout)
    greetings = next(row for row in rows if row["name"] == "greetings")
    assert greetings["enabled"] is True
    assert "erlen_cli_commands" in greetings["hooks"]


def test_deploy_check_refuses_the_development_key() -> None:
    result = _erlen("check", "--deploy")
    assert result.returncode == 1
    assert "erlen.E002" in result.stdout + result.stderr
