"""erlen-auth's full sign-in, as a browser does it: password, password + TOTP, passkey.

* ``signin_wsgi``: milliseconds per sign-in of one Erlen app
  (``PLUGINS = ["db", "forms", "auth"]``, an SQLite file, production-like
  settings: no TESTING, no debug, a SECRET_KEY, argon2id at erlen-auth's
  defaults), in-process through the WSGI app, each sign-in from a client with no
  cookie yet:

  - ``password``: ``GET /auth/login``, then POST it with the CSRF token from the
    page: a redirect, with the session cookie.
  - ``password + TOTP``: the same POST, answered by a redirect to
    ``/auth/two-factor``; GET that page, POST a valid code (pyotp) with its CSRF
    token: a redirect, with the session cookie. The user enrolled through the
    set-up page before timing; the app's two-factor clock
    (``state_of(app).clock``) is a fake one moved a time step (30 s) before each
    sign-in, so every code is of a later step than the last one used (a code
    works once) and nothing sleeps.
  - ``passkey``: ``GET /auth/login``, then the JSON ceremony:
    ``POST /auth/passkeys/login/options`` (CSRF header) and
    ``POST /auth/passkeys/login`` with the assertion signed by the software
    authenticator of erlen-auth's tests (``extensions/auth/tests/soft_authenticator.py``,
    P-256, user verification), no password: ``{"redirect": ...}`` with the session cookie.

  Each user is a user of its own (a passkey or TOTP changes what a password
  sign-in asks). After every sign-in, outside the timed region, ``GET /me`` (a
  ``login_required`` page) must answer 200 with the user's email. Baseline:
  the password sign-in; no target (argon2id is most of a password sign-in, and
  the passkey one has none).
"""

from __future__ import annotations

import importlib
import io
import json
import re
import sys
import time
import typing as t
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import flask
import harness
from bench_auth import Answer
from harness import BenchError, Result

#: Where ``run.py`` writes this module's results: ``results/signin.json``.
SUITE = "signin"

PASSWORD_ONLY = "erlen: password"
WITH_TOTP = "erlen: password + TOTP"
PASSKEY = "erlen: passkey"
FST_PASSWORD = "flask-security: password"
FST_TOTP = "flask-security: password + TOTP"
FST_APP = "fst_signin_app"
FST_EMAILS = {FST_PASSWORD: "ada@example.com", FST_TOTP: "grace@example.com"}

PASSWORD = "correct horse battery staple"
EMAILS = {PASSWORD_ONLY: "ada@example.com", WITH_TOTP: "grace@example.com", PASSKEY: "katherine@example.com"}
SECRET_KEY = "erlen-bench-signin-secret-key-0123456789abcdef"
USER_AGENT = "erlen-bench/1"
REMOTE_ADDR = "127.0.0.1"
#: Passkeys need a domain name, not an IP address: requests are addressed to localhost.
BASE_URL = "http://localhost/"
ORIGIN = "http://localhost"

ERLEN_APP = "erlen_signin_app"
ME_TEMPLATE = "<p>Signed in as <strong>{{ current_user.email }}</strong>.</p>\n"

#: A time in the middle of a 30-second step (the TOTP clock starts here and moves a step per sign-in).
START = 1_800_000_015.0
STEP = 30.0

TESTS_DIR = Path(__file__).resolve().parents[1] / "extensions" / "auth" / "tests"


@dataclass(frozen=True)
class Plan:
    """Rounds of the alternation, and sign-ins per sample (each sample is their mean)."""

    rounds: int
    max_seconds: float
    signins_per_sample: int


FULL = Plan(rounds=20, max_seconds=60.0, signins_per_sample=3)
QUICK = Plan(rounds=3, max_seconds=6.0, signins_per_sample=1)

REQUIRED = (
    ("erlen_db", "erlen-db (./extensions/db)"),
    ("erlen_forms", "erlen-forms (./extensions/forms)"),
    ("erlen_auth", "erlen-auth (./extensions/auth)"),
    ("pyotp", "pyotp"),
    ("webauthn", "webauthn"),
    ("argon2", "argon2-cffi"),
)
DISTRIBUTIONS = (
    "flask-security",
    "libpass",
    "erlen-auth",
    "erlen-forms",
    "erlen-db",
    "argon2-cffi",
    "pyotp",
    "webauthn",
    "sqlalchemy",
)

TITLE = "Full sign-in, ms per sign-in, in-process WSGI (erlen-auth: password; password + TOTP; passkey)"


def run(quick: bool) -> list[Result]:
    """Run the sign-in benchmark; ``quick`` makes it a short smoke run (run once per process, as ``run.py`` does)."""
    plan = QUICK if quick else FULL
    absent = harness.missing(REQUIRED)
    if absent:
        return [harness.skipped(name="signin_wsgi", title=TITLE, reason=harness.not_installed(absent))]
    with harness.module_dir("erlen-bench-signin-") as root:
        results = [bench_signin(plan, root)]
    return harness.with_plan(results, plan)


# --------------------------------------------------------------------------- the app


def write_app(root: Path) -> None:
    harness.write_templates(root, {"me.html": ME_TEMPLATE})
    harness.write_module(
        root,
        ERLEN_APP,
        f'''
        """Sign-in: Erlen with erlen-db, erlen-forms and erlen-auth, production-like settings."""

        from flask import render_template

        import erlen
        from erlen_auth import login_required

        app = erlen.create_app(
            __name__,
            {{
                "PLUGINS": ["db", "forms", "auth"],
                "DB_URL": {f"sqlite:///{root / 'signin.sqlite3'}"!r},
                "SECRET_KEY": {SECRET_KEY!r},
                # Plain HTTP on localhost: the cookies must not be Secure-only.
                "SESSION_COOKIE_SECURE": False,
                "REMEMBER_COOKIE_SECURE": False,
                "AUTH_PASSKEY_ORIGINS": [{ORIGIN!r}],
            }},
            environ={{}},
        )


        @app.get("/me")
        @login_required
        def me():
            return render_template("me.html")
        ''',
    )


class Clock:
    """The app's two-factor clock, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- a browser


class Browser:
    """A client of the WSGI app in-process: a cookie jar, requests from 127.0.0.1 to http://localhost/."""

    def __init__(self, app: flask.Flask) -> None:
        self.app = app
        self.cookies: dict[str, str] = {}

    def send(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | None = None,
        json_body: t.Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        sent = {"User-Agent": USER_AGENT, **(headers or {})}
        body = b""
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
            sent["Accept"] = "application/json"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        environ = harness.wsgi_environ(
            path, method=method, headers=sent, body=body, base_url=BASE_URL, remote_addr=REMOTE_ADDR
        )
        started: list[tuple[str, list[tuple[str, str]]]] = []
        buffer = io.BytesIO()

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: object = None) -> t.Any:
            started.append((status, response_headers))
            return buffer.write

        iterable = self.app(environ, start_response)
        try:
            for chunk in iterable:
                buffer.write(chunk)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        status, response_headers = started[-1]
        answer = Answer(
            int(status.split()[0]), [(key.lower(), value) for key, value in response_headers], buffer.getvalue()
        )
        for name, morsel in answer.set_cookies().items():
            if morsel.value and morsel["expires"] != "Thu, 01 Jan 1970 00:00:00 GMT":
                self.cookies[name] = morsel.value
            else:
                self.cookies.pop(name, None)
        return answer


def expect(name: str, answer: Answer, statuses: tuple[int, ...], what: str) -> Answer:
    if answer.status not in statuses:
        raise BenchError(f"{name}: {what} answered {answer.status}, expected {statuses}: {answer.body[:400]!r}")
    return answer


def write_fst_app(root: Path) -> None:
    """Flask-Security-Too as its docs recommend: fsqla_v3 models, argon2 (erlen-auth's parameters), TOTP."""
    harness.write_module(
        root,
        FST_APP,
        f'''
        """Sign-in: Flask-Security-Too with Flask-SQLAlchemy, two-factor by authenticator app."""

        from flask import Flask
        from flask_security import Security, SQLAlchemyUserDatastore, auth_required, current_user
        from flask_security.models import fsqla_v3 as fsqla
        from flask_sqlalchemy import SQLAlchemy

        app = Flask(__name__)
        app.config.update(
            SECRET_KEY={SECRET_KEY!r},
            SECURITY_PASSWORD_SALT="erlen-bench-signin-password-salt-0123456789",
            SQLALCHEMY_DATABASE_URI={f"sqlite:///{root / 'fst.sqlite3'}"!r},
            SECURITY_PASSWORD_HASH="argon2",
            SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS={{
                "argon2__rounds": {{argon2_rounds}},
                "argon2__memory_cost": {{argon2_memory}},
                "argon2__parallelism": {{argon2_lanes}},
            }},
            SECURITY_TWO_FACTOR=True,
            SECURITY_TWO_FACTOR_ENABLED_METHODS=["authenticator"],
            SECURITY_TOTP_SECRETS={{"1": "erlen-bench-signin-totp-secret-0123456789abcdef"}},
            SECURITY_TOTP_ISSUER="erlen-bench",
            SESSION_COOKIE_SECURE=False,
            REMEMBER_COOKIE_SECURE=False,
        )
        db = SQLAlchemy(app)
        fsqla.FsModels.set_db_info(db)


        class Role(db.Model, fsqla.FsRoleMixin):
            pass


        class User(db.Model, fsqla.FsUserMixin):
            pass


        class WebAuthn(db.Model, fsqla.FsWebAuthnMixin):
            pass


        datastore = SQLAlchemyUserDatastore(db, User, Role, WebAuthn)
        security = Security(app, datastore)


        @app.get("/me")
        @auth_required()
        def me():
            return f"<p>Signed in as <strong>{{current_user.email}}</strong>.</p>"
        '''.replace("{argon2_rounds}", "3")
        .replace("{argon2_memory}", "65536")
        .replace("{argon2_lanes}", "4"),
    )


def fst_set_up(module: t.Any) -> str:
    """The two FST users (one with TOTP, its secret set as tf-setup would); the secret."""
    from flask_security import hash_password

    app = module.app
    with app.app_context():
        module.db.create_all()
        module.datastore.create_user(email=FST_EMAILS[FST_PASSWORD], password=hash_password(PASSWORD))
        user = module.datastore.create_user(email=FST_EMAILS[FST_TOTP], password=hash_password(PASSWORD))
        secret = module.security._totp_factory.generate_totp_secret()
        module.datastore.tf_set(user, "authenticator", totp_secret=secret)
        module.db.session.commit()
    return t.cast(str, secret)


def fst_sign_in(module: t.Any, name: str, secret: str | None) -> Browser:
    browser = Browser(module.app)
    page = expect(name, browser.send("GET", "/login"), (200,), "GET /login")
    form = {"email": FST_EMAILS[name], "password": PASSWORD, "csrf_token": harness.csrf_token_in(page.body, name)}
    answer = expect(name, browser.send("POST", "/login", form=form), (302, 303), "the log-in POST")
    location = answer.header("location") or ""
    if secret is None:
        if "tf-" in location:
            raise BenchError(f"{name}: the password sign-in asked for a second factor")
        return browser
    path = urllib.parse.urlsplit(location).path
    if path != "/tf-validate":
        raise BenchError(f"{name}: the password step redirected to {location!r}, not /tf-validate")
    page = expect(name, browser.send("GET", location), (200,), "GET /tf-validate")
    with module.app.app_context():
        code = module.security._totp_factory.generate_totp_password(secret)
    form = {"code": code, "csrf_token": harness.csrf_token_in(page.body, name)}
    done = expect(name, browser.send("POST", path, form=form), (302, 303), "the code's POST")
    if "tf-" in (done.header("location") or ""):
        raise BenchError(f"{name}: the code was refused")
    return browser


def check_signed_in(name: str, browser: Browser, email: str) -> None:
    """Fail unless the browser's session opens ``GET /me`` (``login_required``) as ``email``."""
    answer = browser.send("GET", "/me")
    if answer.status != 200 or f"<strong>{email}</strong>".encode() not in answer.body:
        raise BenchError(f"{name}: GET /me after signing in answered {answer.status} {answer.body[:300]!r}")


# --------------------------------------------------------------------------- the three sign-ins


def password_step(name: str, browser: Browser, email: str) -> Answer:
    """GET the log-in page and POST it with its CSRF token; the redirect."""
    page = expect(name, browser.send("GET", "/auth/login"), (200,), "GET /auth/login")
    token = harness.csrf_token_in(page.body, name)
    form = {"email": email, "password": PASSWORD, "csrf_token": token}
    return expect(name, browser.send("POST", "/auth/login", form=form), (302, 303), "the log-in POST")


def sign_in_password(app: flask.Flask) -> Browser:
    browser = Browser(app)
    answer = password_step(PASSWORD_ONLY, browser, EMAILS[PASSWORD_ONLY])
    if "two-factor" in (answer.header("location") or ""):
        raise BenchError(f"{PASSWORD_ONLY}: the password sign-in asked for a second factor")
    return browser


def sign_in_totp(app: flask.Flask, clock: Clock, secret: str) -> Browser:
    import pyotp

    browser = Browser(app)
    clock.now += STEP  # a code of a later step than the last one used
    answer = password_step(WITH_TOTP, browser, EMAILS[WITH_TOTP])
    location = answer.header("location") or ""
    if urllib.parse.urlsplit(location).path != "/auth/two-factor":
        raise BenchError(f"{WITH_TOTP}: the password step redirected to {location!r}, not /auth/two-factor")
    page = expect(WITH_TOTP, browser.send("GET", "/auth/two-factor"), (200,), "GET /auth/two-factor")
    token = harness.csrf_token_in(page.body, WITH_TOTP)
    form = {"code": pyotp.TOTP(secret).at(clock.now), "csrf_token": token}
    done = expect(WITH_TOTP, browser.send("POST", "/auth/two-factor", form=form), (302, 303), "the code's POST")
    if "two-factor" in (done.header("location") or ""):
        raise BenchError(f"{WITH_TOTP}: the code was refused: {done.header('location')!r}")
    return browser


def sign_in_passkey(app: flask.Flask, authenticator: t.Any) -> Browser:
    browser = Browser(app)
    page = expect(PASSKEY, browser.send("GET", "/auth/login"), (200,), "GET /auth/login")
    if b'data-erlen-passkey="login"' not in page.body:
        raise BenchError(f"{PASSKEY}: the log-in page offers no passkey sign-in")
    headers = {"X-CSRF-Token": harness.csrf_token_in(page.body, PASSKEY)}
    options = expect(
        PASSKEY, browser.send("POST", "/auth/passkeys/login/options", json_body={}, headers=headers), (200,), "options"
    )
    credential = authenticator.get(json.loads(options.body))
    done = expect(
        PASSKEY,
        browser.send("POST", "/auth/passkeys/login", json_body={"credential": credential}, headers=headers),
        (200,),
        "POST /auth/passkeys/login",
    )
    if "redirect" not in json.loads(done.body):
        raise BenchError(f"{PASSKEY}: the passkey sign-in answered {done.body[:300]!r}")
    return browser


# --------------------------------------------------------------------------- before timing


def soft_authenticator_class() -> t.Any:
    """``SoftAuthenticator`` from erlen-auth's tests (imported from there, not copied)."""
    if str(TESTS_DIR) not in sys.path:
        sys.path.append(str(TESTS_DIR))
    from soft_authenticator import SoftAuthenticator

    return SoftAuthenticator


def set_up(app: flask.Flask, clock: Clock) -> tuple[str, t.Any]:
    """Create the users, turn TOTP on for one and add a passkey for another, through the pages; the TOTP secret
    and the authenticator holding the passkey."""
    import pyotp

    import erlen_auth
    import erlen_db

    erlen_db.database_of(app).create_all()
    with app.app_context():
        for email in EMAILS.values():
            erlen_auth.create_user(email, PASSWORD, confirmed=True)

    browser = sign_in_password_as(app, WITH_TOTP)
    page = expect(WITH_TOTP, browser.send("GET", "/auth/two-factor/setup"), (200,), "GET /auth/two-factor/setup")
    found = re.search(rb'id="totp-secret">([A-Z2-7 ]+)<', page.body)
    if found is None:
        raise BenchError(f"{WITH_TOTP}: the set-up page shows no secret: {page.body[:400]!r}")
    secret = found.group(1).decode().replace(" ", "")
    form = {"code": pyotp.TOTP(secret).at(clock.now), "csrf_token": harness.csrf_token_in(page.body, WITH_TOTP)}
    done = expect(WITH_TOTP, browser.send("POST", "/auth/two-factor/setup", form=form), (200,), "the set-up POST")
    if b"Your recovery codes" not in done.body:
        raise BenchError(f"{WITH_TOTP}: turning TOTP on failed: {done.body[:400]!r}")

    authenticator = soft_authenticator_class()(origin=ORIGIN)
    browser = sign_in_password_as(app, PASSKEY)
    page = expect(PASSKEY, browser.send("GET", "/auth/security"), (200,), "GET /auth/security")
    headers = {"X-CSRF-Token": harness.csrf_token_in(page.body, PASSKEY)}
    options = expect(
        PASSKEY,
        browser.send("POST", "/auth/passkeys/register/options", json_body={"name": "Bench"}, headers=headers),
        (200,),
        "the registration options",
    )
    credential = authenticator.create(json.loads(options.body))
    expect(
        PASSKEY,
        browser.send("POST", "/auth/passkeys/register", json_body={"credential": credential}, headers=headers),
        (200,),
        "the passkey registration",
    )
    return secret, authenticator


def sign_in_password_as(app: flask.Flask, name: str) -> Browser:
    browser = Browser(app)
    password_step(name, browser, EMAILS[name])
    check_signed_in(name, browser, EMAILS[name])
    return browser


# --------------------------------------------------------------------------- the benchmark


def timed(plan: Plan, name: str, sign_in: Callable[[], Browser]) -> Callable[[], float]:
    """One sample: the mean ms of ``plan.signins_per_sample`` sign-ins, each checked afterwards (not timed)."""

    def measure() -> float:
        total = 0.0
        for _ in range(plan.signins_per_sample):
            started = time.perf_counter()
            browser = sign_in()
            total += time.perf_counter() - started
            check_signed_in(name, browser, {**EMAILS, **FST_EMAILS}[name])
        return total / plan.signins_per_sample * 1000

    return measure


def bench_signin(plan: Plan, root: Path) -> Result:
    import erlen_auth

    write_app(root)
    harness.compile_tree(root)
    app = harness.import_app(ERLEN_APP)
    clock = Clock()
    erlen_auth.state_of(app).clock = clock
    secret, authenticator = set_up(app, clock)
    config = app.config
    argon2 = (
        f"argon2id time_cost={config['AUTH_ARGON2_TIME_COST']}, memory_cost={config['AUTH_ARGON2_MEMORY_COST']} KiB, "
        f"parallelism={config['AUTH_ARGON2_PARALLELISM']}"
    )
    contenders = {
        PASSWORD_ONLY: timed(plan, PASSWORD_ONLY, lambda: sign_in_password(app)),
        WITH_TOTP: timed(plan, WITH_TOTP, lambda: sign_in_totp(app, clock, secret)),
        PASSKEY: timed(plan, PASSKEY, lambda: sign_in_passkey(app, authenticator)),
    }
    fst_note = "Flask-Security-Too not installed (pip install -r bench/requirements.txt): Erlen only."
    if not harness.missing([("flask_security", "flask-security"), ("passlib", "passlib")]):
        write_fst_app(root)
        harness.compile_tree(root)
        fst = importlib.import_module(FST_APP)
        fst_secret = fst_set_up(fst)
        contenders[FST_PASSWORD] = timed(plan, FST_PASSWORD, lambda: fst_sign_in(fst, FST_PASSWORD, None))
        contenders[FST_TOTP] = timed(plan, FST_TOTP, lambda: fst_sign_in(fst, FST_TOTP, fst_secret))
        fst_note = (
            "Flask-Security-Too (fsqla_v3 models on an SQLite file of its own, SECURITY_PASSWORD_HASH argon2 "
            "at the same parameters through passlib, SECURITY_TWO_FACTOR with the authenticator method): GET "
            "/login, POST it with its CSRF token; for TOTP the POST redirects to /tf-validate, GET it, POST the "
            "code. Its TOTP secret is set with datastore.tf_set before timing; it keeps no last-used step, so no "
            "clock is moved for it."
        )
    # The warm-up sign-in of each is checked too (``timed`` checks every one).
    samples = harness.alternate(contenders, rounds=plan.rounds, max_seconds=plan.max_seconds)
    return harness.compare(
        name="signin_wsgi",
        title=TITLE,
        unit="ms/sign-in",
        samples=samples,
        baseline=PASSWORD_ONLY,
        subject=WITH_TOTP,
        higher_is_better=False,
        notes=[
            "Each sign-in starts from a client with no cookie, in-process (app(environ, start_response)), requests "
            "from 127.0.0.1 to http://localhost/. password: GET /auth/login, POST it with its CSRF token (redirect). "
            "password + TOTP: the same POST redirects to /auth/two-factor; GET it, POST a pyotp code with its CSRF "
            "token (redirect). passkey: GET /auth/login, POST /auth/passkeys/login/options, then "
            "POST /auth/passkeys/login with the assertion of erlen-auth's tests' software authenticator "
            "(P-256, user verified; no password).",
            f"Argon2 dominates the password sign-ins: {argon2} (erlen-auth's defaults) is hashed once per "
            "password POST; the passkey sign-in hashes nothing (an ECDSA P-256 verification instead).",
            "The app's two-factor clock (state_of(app).clock) is moved one 30-second step before each TOTP "
            "sign-in, so each code is of a later step than the last one used; nothing sleeps.",
            "After every sign-in (the warm-up's too), outside the timed region, GET /me (login_required) answered "
            "200 with the user's email. Three users, one per way in; one SQLite file; no TESTING, no debug.",
            fst_note,
            f"Each sample is the mean of {plan.signins_per_sample} sign-in(s); contenders alternate per round.",
        ],
        extra={"versions": harness.versions(DISTRIBUTIONS, sqlite=True), "argon2": argon2},
    )
