"""The deployment guide's commands on the example app: gunicorn serves it, the mail worker delivers its queue."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environ(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERLEN_") or k == "ERLEN_REQUIRE_SERVICES"}
    env.update(
        ERLEN_DB_URL=f"sqlite:///{tmp_path / 'notes.sqlite3'}",
        ERLEN_MAIL_BACKEND="file",
        ERLEN_MAIL_FILE_PATH=str(tmp_path / "mail"),
    )
    return env


def _erlen(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "erlen", "--app", "notes_app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_gunicorn_serves_the_app_with_several_workers(tmp_path: Path) -> None:
    if importlib.util.find_spec("gunicorn") is None:
        pytest.skip("gunicorn is not installed (the integration session has it)")
    env = _environ(tmp_path)
    upgrade = _erlen(env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "notes_app:create_app()"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    assert response.url.endswith("/auth/login?next=/notes/")
                    assert "<h1>Log in</h1>" in response.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_mail_worker_delivers_queued_mail(tmp_path: Path) -> None:
    import notes_app

    from erlen_db import session
    from erlen_mail import queue_template

    env = _environ(tmp_path)
    app = notes_app.create_app(env, instance_path=str(tmp_path / "instance"))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.test_request_context():
        queue_template("erlen/test", to="ada@example.com")
        session.commit()
    worker = _erlen(env, "mail", "worker", "--once")
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert "1 sent" in worker.stdout, worker.stdout
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1
