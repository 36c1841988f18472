"""Authlib, py_webauthn, pyotp, cryptography, argon2-cffi and email_validator are imported when they are used.

Never by an app's start-up alone: every process of an app (each web worker, each
``--help``) imports erlen-auth; Authlib (with Requests and a JOSE library) serves
only apps with OpenID Connect providers, py_webauthn (with pydantic and
cryptography) only the passkey ceremonies, pyotp and cryptography only the second
factor, argon2-cffi (a C library loaded through cffi) only hashing and checking
passwords, email_validator (which compiles large Unicode patterns) only checking
an address.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from erlen.testing import free_port

SCRIPT = """
import sys

import erlen

config = {{"PLUGINS": ["db", "forms", "auth"], "DB_URL": {url!r}, "SECRET_KEY": "lazy-imports-key-0123456789abcdef"}}
{configure}
app = erlen.create_app("lazy_app", config=config)
page = app.test_client().get("/auth/login").text
loaded = {{name.split(".")[0] for name in sys.modules}}
heavy = {{"authlib", "webauthn", "requests", "joserfc", "pyotp", "cryptography", "argon2", "email_validator"}}
print("loaded:", sorted(loaded & heavy))
oidc = {{"erlen_auth.oidc", "erlen_auth.oidc_client", "erlen_auth.oidc_views"}}
print("oidc modules:", sorted(oidc & set(sys.modules)))
print("oidc buttons:", 'id="auth-oidc-' in page)
print("failover:", "erlen.failover" in sys.modules)
"""


def loaded(tmp_path: Path, configure: str = "") -> str:
    """The heavy libraries a fresh interpreter holds after creating an app and serving the log-in page."""
    source = textwrap.dedent(SCRIPT).format(url=f"sqlite:///{tmp_path / 'lazy.sqlite3'}", configure=configure)
    done = subprocess.run(
        [sys.executable, "-c", source], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_app_without_providers_imports_neither(tmp_path: Path) -> None:
    output = loaded(tmp_path)
    assert "loaded: []" in output
    # Nor erlen-auth's own OpenID Connect code: without providers, the app never runs it.
    assert "oidc modules: []" in output and "oidc buttons: False" in output, output
    # Nor the failover of the Redis throttle store: this app counts failed log-ins in memory.
    assert "failover: False" in output, output


def test_an_app_counting_failed_log_ins_in_redis_imports_the_failover(tmp_path: Path) -> None:
    # Creating the app and serving its log-in page talk to no Redis: a port nothing listens on, not the shared server.
    redis = f'config["AUTH_THROTTLE_REDIS_URL"] = "redis://127.0.0.1:{free_port()}/0"'
    assert "failover: True" in loaded(tmp_path, redis)


def test_an_app_with_a_provider_imports_authlib(tmp_path: Path) -> None:
    provider = 'config["AUTH_OIDC_PROVIDERS"] = {"google": {"client_id": "g", "client_secret": "gs"}}'
    output = loaded(tmp_path, provider)
    assert all(f"'{name}'" in output for name in ("authlib", "joserfc", "requests")), output
    assert "'webauthn'" not in output and "'pyotp'" not in output, output
    assert "'argon2'" not in output and "'email_validator'" not in output, output
    modules = "oidc modules: ['erlen_auth.oidc', 'erlen_auth.oidc_client', 'erlen_auth.oidc_views']"
    assert modules in output and "oidc buttons: True" in output, output
