"""The README's first command, exactly as a newcomer types it, in a fresh virtual environment.

It installs the distributions from this checkout (and their dependencies from
the package index), then ``demo`` migrates, creates the demo admin and serves
on 127.0.0.1:5000. The test waits for the page, then stops the server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_readme import readme_commands

ROOT = Path(__file__).resolve().parents[1]


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_readme_command_installs_and_serves_the_example_app(tmp_path: Path) -> None:
    if _port_in_use(5000):
        pytest.skip("127.0.0.1:5000 is taken, and the README's command serves there")
    venv = tmp_path / "venv"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=300)
    if made.returncode != 0:
        pytest.skip(f"cannot make a virtual environment with pip here: {made.stderr.strip()[-300:]}")
    python = venv / "bin" / "python3"
    command = readme_commands()[0]
    assert command.count("python3 -m ") == 2
    command = command.replace("python3 -m ", f"{python} -m ")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ERLEN_", "FLASK_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    log = tmp_path / "output.txt"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", command], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 900  # the first install downloads the dependencies
            while True:
                try:
                    with urllib.request.urlopen("http://127.0.0.1:5000/", timeout=5) as response:
                        page = response.read().decode()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        pytest.fail(f"The README's command did not serve the app:\n{log.read_text()[-5000:]}")
                    time.sleep(0.5)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    assert "<h1>Log in</h1>" in page
    output = log.read_text()
    assert "Applied notes " in output and "email:    admin@example.com" in output, output[-5000:]
