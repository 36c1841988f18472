"""The deployment guide's commands on the example app: gunicorn serves it, the tasks worker runs its jobs and mail.

:func:`test_the_deployment_guide_walked_on_postgresql` follows
``docs/deployment.rst`` as written: the shell reads its ``production.env``
(placeholders filled in), every ``erlen`` command of its console blocks runs
in order, gunicorn starts from its ``wsgi.py`` and ``gunicorn.conf.py`` and
the background worker (`erlen tasks worker`) from its systemd unit, on PostgreSQL, Redis and an SMTP
server with STARTTLS and a log-in, with requests sent as the reverse proxy
forwards them.
"""

from __future__ import annotations

import http.cookiejar
import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
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


ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "deployment.rst"
DEPLOY = ROOT / "docs" / "examples" / "deploy"

#: The host name of production.env's TRUSTED_HOSTS.
PUBLIC_HOST = "notes.example.com"

#: The headers nginx adds, as the guide's server block sets them, for a client at 203.0.113.7.
FORWARDED = {
    "Host": PUBLIC_HOST,
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": PUBLIC_HOST,
}

PASSWORD = "a long enough password"

#: The guide's commands after the first administrator is made, but the worker: what each prints in the walk.
LATER_COMMANDS = {
    "erlen --app notes_app user sessions purge": "Purged 0 log-in sessions",
    "erlen --app notes_app user purge-deleted": "Deleted 0 accounts whose grace period had ended.",
    "erlen --app notes_app mail outbox --status uncertain": "No uncertain messages.",
}


def _console_commands(command: str) -> list[str]:
    """The commands of the guide's console blocks that start with ``command``, in order."""
    return [line.strip()[2:] for line in GUIDE.read_text().splitlines() if line.strip().startswith(f"$ {command} ")]


def _filled_production_env(tmp_path: Path, database_url: str, smtp: _SMTP) -> Path:
    """production.env with its placeholders filled in for the machines of the test."""
    text = (DEPLOY / "production.env").read_text()
    filled = (
        text.replace(
            """<the output of: python -c "import secrets; print(secrets.token_urlsafe(48))">""",
            secrets.token_urlsafe(48),
        )
        .replace("postgresql://notes:<password>@db.internal/notes", database_url)
        .replace("redis://cache.internal:6379/0", os.environ.get("ERLEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
        .replace("smtp.example.com", smtp.server.host)
        .replace("<the SMTP password>", "the smtp password")
    )
    values = [line for line in filled.splitlines() if not line.startswith("#")]
    assert not re.search(r"<(?!notes@example\.com>)", "\n".join(values)), "a placeholder the test does not fill"
    # The test's SMTP server listens on a port of its own, with a certificate of the test's CA.
    filled += f"ERLEN_MAIL_SMTP_PORT='{smtp.server.port}'\nERLEN_MAIL_SMTP_CA_FILE='{smtp.ca_file}'\n"
    env_file = tmp_path / "etc" / "production.env"
    env_file.parent.mkdir()
    env_file.write_text(filled)
    return env_file


class _Shell:
    """Runs commands as the guide does: in a shell that read production.env with ``set -a``."""

    def __init__(self, env_file: Path, cwd: Path) -> None:
        self.env_file = env_file
        self.cwd = cwd
        bin_folder = str(Path(sys.executable).parent)  # the activated virtual environment
        self.environ = {
            "PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(cwd),
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def argv(self, command: str) -> list[str]:
        return ["bash", "-c", f'set -a; . "$0"; set +a; exec {command}', str(self.env_file)]

    def run(self, command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(command),
            input=stdin,
            env=self.environ,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def start(self, command: str, log: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(
                self.argv(command),
                env={**self.environ, **(extra_env or {})},
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
            )


class _Browser:
    """A browser behind the guide's nginx: its requests reach gunicorn with the proxy's headers."""

    class _BehindTLS(http.cookiejar.DefaultCookiePolicy):
        # The browser speaks HTTPS to the proxy, so it sends its Secure cookies; the test speaks HTTP to gunicorn.
        def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
            return True

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: t.Any, **kwargs: t.Any) -> None:
            return None

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        jar = http.cookiejar.CookieJar(policy=self._BehindTLS())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), self._NoRedirect)

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """``(status, Location, body)`` of a GET, or of a POST of ``form`` with the CSRF token of ``path``'s page."""
        headers = dict(FORWARDED)
        data = None
        if form is not None:
            page = self.request(path)[2]
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
            assert token, page
            data = urllib.parse.urlencode({"csrf_token": token.group(1), **form}).encode()
            headers["Origin"] = f"https://{PUBLIC_HOST}"
        try:
            response = self.opener.open(urllib.request.Request(self.base + path, data, headers), timeout=120)
        except urllib.error.HTTPError as exc:
            response = exc
        return response.status, response.headers.get("Location", ""), response.read().decode()


def _wait_for(condition: t.Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until ``condition()``, failing with the log if ``process`` ends first or after three minutes.

    Each gunicorn worker imports and builds the app after the fork: on a busy machine, seconds each.
    """
    deadline = time.monotonic() + 180
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen (exit status {process.poll()}):\n{log.read_text()}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> int:
    """Stop ``process`` with SIGTERM, as systemd does; its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def _answers(port: int) -> bool:
    """Whether a worker of the app answers a request, as the proxy forwards it."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/auth/login", headers=FORWARDED)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status) == 200
    except OSError:
        return False


class _SMTP(t.NamedTuple):
    """The SMTP server of the walk, and the PEM file of the CA that signed its certificate."""

    server: t.Any
    ca_file: Path


@pytest.fixture
def smtp_starttls(tmp_path: Path) -> Iterator[_SMTP]:
    """An SMTP server as production.env expects one: STARTTLS required, the log-in ``notes`` required."""
    trustme = pytest.importorskip("trustme", reason="trustme is not installed: pip install erlen-mail[test]")
    pytest.importorskip("aiosmtpd", reason="aiosmtpd is not installed: pip install erlen-mail[testing]")
    from erlen_mail.testing import SMTPTestServer

    ca = trustme.CA()
    ca_file = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server = SMTPTestServer(
        tls_context=context, require_starttls=True, credentials={"notes": "the smtp password"}, require_auth=True
    )
    server.start()
    yield _SMTP(server, ca_file)
    server.stop()


def test_the_units_and_the_procfile_run_the_commands_of_the_guide() -> None:
    web = re.search(r"^ExecStart=(.+)$", (DEPLOY / "notes-web.service").read_text(), re.M)
    worker = re.search(r"^ExecStart=(.+)$", (DEPLOY / "notes-worker.service").read_text(), re.M)
    assert web and worker
    procfile = dict(line.split(": ", 1) for line in (DEPLOY / "Procfile").read_text().splitlines())
    assert (
        procfile["web"] == web.group(1).removeprefix("/srv/notes/.venv/bin/") == "gunicorn -c gunicorn.conf.py wsgi:app"
    )
    assert procfile["worker"] == worker.group(1).removeprefix("/srv/notes/.venv/bin/")
    assert procfile["worker"] in _console_commands("erlen")
    assert procfile["release"] in _console_commands("erlen")
    assert "$ gunicorn -c gunicorn.conf.py wsgi:app" in GUIDE.read_text()


def test_the_deployment_guide_walked_on_postgresql(
    tmp_path: Path, postgres_schema_url: str, smtp_starttls: _SMTP
) -> None:
    for module in ("gunicorn", "redis"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (the integration session has it)")
    srv = tmp_path / "srv"
    srv.mkdir()
    for name in ("wsgi.py", "gunicorn.conf.py"):  # "Put the two files gunicorn reads ... in /srv/notes"
        shutil.copy(DEPLOY / name, srv / name)
    env_file = _filled_production_env(tmp_path, postgres_schema_url, smtp_starttls)
    smtp = smtp_starttls.server
    shell = _Shell(env_file, srv)

    commands = _console_commands("erlen")
    assert commands[:3] == [
        "erlen --app notes_app check --deploy",
        "erlen --app notes_app db upgrade",
        "erlen --app notes_app user create --email you@example.com --superuser",
    ], commands
    check = shell.run(commands[0])
    assert check.returncode == 0, check.stdout + check.stderr
    # WEB_CONCURRENCY=4 workers and the background worker, 10 connections each, fit the server's max_connections.
    assert not re.search(r"\b(ERROR|db\.W00\d|db\.I00\d)\b", check.stdout + check.stderr), check.stdout + check.stderr
    upgrade = shell.run(commands[1])
    assert upgrade.returncode == 0 and "Applied notes" in upgrade.stdout, upgrade.stdout + upgrade.stderr
    superuser = shell.run(commands[2], stdin=PASSWORD + "\n")
    assert superuser.returncode == 0 and "(superuser)" in superuser.stdout, superuser.stdout + superuser.stderr
    check = shell.run(commands[0])
    assert check.returncode == 0 and "found 0 errors and 0 warnings" in check.stdout, check.stdout + check.stderr
    # What remains says which endpoints erlen-api checks for CSRF itself (the REST API's).
    notes = [line for line in check.stdout.splitlines() if line.startswith("INFO")]
    assert all("forms.I001" in line and "erlen-api checks the CSRF header" in line for line in notes), notes

    port = _free_port()
    web_log = tmp_path / "gunicorn.log"
    # The guide's bind, 127.0.0.1:8000, moved to a free port; the command line is the guide's.
    gunicorn = shell.start(
        "gunicorn -c gunicorn.conf.py wsgi:app", web_log, {"GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}"}
    )
    worker_unit = re.search(r"^ExecStart=\S+/bin/(.+)$", (DEPLOY / "notes-worker.service").read_text(), re.M)
    assert worker_unit
    worker_log = tmp_path / "worker.log"
    worker = shell.start(worker_unit.group(1), worker_log)
    try:
        _wait_for(lambda: _answers(port), "an answer of gunicorn", gunicorn, web_log)
        assert len(re.findall(r"Booting worker", web_log.read_text())) == 4  # WEB_CONCURRENCY
        browser = _Browser(port)
        status, _, page = browser.request(
            "/auth/register",
            {"email": "ada@example.com", "display_name": "Ada", "password": PASSWORD, "confirm": PASSWORD},
        )
        assert status == 200 and "Check your email" in page, page
        _wait_for(lambda: bool(smtp.messages), "the confirmation mail", worker, worker_log)
        (mail,) = smtp.messages
        assert mail.recipients == ["ada@example.com"] and mail.tls and mail.login == "notes"
        assert f"https://{PUBLIC_HOST}/auth/confirm/" in mail.email.get_body(("plain",)).get_content()
        # The first administrator logs in and reaches the admin.
        admin = _Browser(port)
        status, _, page = admin.request("/auth/login", {"email": "you@example.com", "password": PASSWORD})
        assert status == 302, page
        status, _, page = admin.request("/admin/")
        assert status == 200, page
        for command in commands[3:]:
            if command == "erlen --app notes_app tasks worker":
                continue  # running since the start, as its unit runs it
            assert command in LATER_COMMANDS, f"the walk does not know {command!r}: add it to LATER_COMMANDS"
            result = shell.run(command)
            assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
            assert LATER_COMMANDS[command] in result.stdout, f"{command}: {result.stdout}"
    except BaseException:
        print("GUNICORN LOG", web_log.read_text(), "WORKER LOG", worker_log.read_text(), sep="\n")
        raise
    finally:
        worker_status = _stop(worker)
        web_status = _stop(gunicorn)
    assert worker_status == 0, worker_log.read_text()
    # The confirmation mail went through the outbox: the worker's delivery job sent it, not the request.
    assert re.search(r"mail\.deliver_outbox \w+ done", worker_log.read_text()), worker_log.read_text()
    assert "Stopped:" in worker_log.read_text(), worker_log.read_text()
    assert web_status == 0, web_log.read_text()
