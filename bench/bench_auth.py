"""erlen-auth against Flask-SQLAlchemy + Flask-Login + Flask-WTF: a logged-in page.

* ``me_wsgi`` and ``me_http``: requests/s of ``GET /me``, a page behind
  ``login_required`` that renders ``current_user.email`` with a small template
  file, for a client that logged in once and sends its session cookie with every
  request. Two apps, each with an SQLite file of its own holding one user:

  - Erlen: ``erlen.create_app`` with ``PLUGINS = ["db", "forms", "auth"]``
    (auth requires db and forms), production-like settings (no TESTING, no
    debug, a SECRET_KEY; the Secure cookie flags off, since the benchmark
    speaks plain HTTP to 127.0.0.1), the view decorated with
    ``erlen_auth.login_required``. Logged in through erlen-auth's own form at
    ``/auth/login`` (CSRF token from the page, then POST).
  - Classic: Flask with ``db = SQLAlchemy(app)``, a ``User`` model with
    ``UserMixin``, Flask-Login's ``LoginManager`` with a ``user_loader`` doing
    ``db.session.get(User, int(user_id))``, Flask-WTF's ``CSRFProtect(app)``
    and a ``FlaskForm`` log-in form whose view checks the password with
    argon2-cffi and calls ``login_user``; the view decorated with
    ``flask_login.login_required``.

  Both hash with argon2id at argon2-cffi's default parameters (erlen-auth's
  defaults are the same), though only the log-in hashes and it is not timed.
  Before timing, each page must answer 200 with the user's email for the
  logged-in client (without setting a cookie), and an anonymous ``GET /me``
  must be redirected to the log-in page. Measured in-process (the WSGI app
  called directly with a prepared environ carrying the cookie; framework
  overhead only) and over HTTP (gunicorn, 1 sync worker, 127.0.0.1).
  Target: Erlen / classic >= 1.0.

Each transport logs in on its own, through the real form: over HTTP against
the gunicorn server, in-process against the imported app. The apps are
generated as real files in a temporary folder, so gunicorn imports exactly
what the in-process runs import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import html
import http.client
import importlib
import importlib.util
import io
import re
import typing as t
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import flask
import harness
from harness import BenchError, Result, Target
from werkzeug.test import EnvironBuilder

#: Where ``run.py`` writes this module's results: ``results/auth.json``.
SUITE = "auth"

ERLEN = "erlen + erlen-db + erlen-auth"
CLASSIC = "flask-sqlalchemy + flask-login + flask-wtf"

ME_TARGET = Target(">=", 1.0)

EMAIL = "ada.lovelace@example.com"
PASSWORD = "correct horse battery staple"
SECRET_KEY = "erlen-bench-auth-secret-key-0123456789abcdef"
#: Sent with the log-in and every timed request: Flask-Login's session protection hashes it with the address.
USER_AGENT = "erlen-bench/1"
REMOTE_ADDR = "127.0.0.1"

ERLEN_APP = "erlen_auth_me_app"
CLASSIC_APP = "classic_auth_me_app"

ME_TEMPLATE = """<!doctype html>
<title>Your account</title>
<h1>Your account</h1>
<p>Signed in as <strong>{{ current_user.email }}</strong>.</p>
"""

CLASSIC_LOGIN_TEMPLATE = """<!doctype html>
<title>Log in</title>
<form method="post" action="{{ url_for('login') }}">
  {{ form.csrf_token }}
  {{ form.email.label }} {{ form.email() }}
  {{ form.password.label }} {{ form.password() }}
  <button type="submit">Log in</button>
</form>
"""


@dataclass(frozen=True)
class Plan:
    """How much is measured; every figure is an upper bound."""

    wsgi_rounds: int
    wsgi_round_seconds: float
    http_rounds: int
    http_round_seconds: float
    http_threads: int


FULL = Plan(wsgi_rounds=40, wsgi_round_seconds=0.1, http_rounds=30, http_round_seconds=0.5, http_threads=2)
QUICK = Plan(wsgi_rounds=3, wsgi_round_seconds=0.15, http_rounds=2, http_round_seconds=0.5, http_threads=2)


def run(quick: bool) -> list[Result]:
    """Run the auth benchmarks; ``quick`` makes each a short smoke run.

    The Erlen app's models live on the shared ``erlen_db.Model``: run the
    suite once per process, as ``run.py`` does.
    """
    plan = QUICK if quick else FULL
    with harness.module_dir("erlen-bench-auth-") as root:
        results = bench_me(plan, root)
    for result in results:
        result["plan"] = dataclasses.asdict(plan)
    return results


# --------------------------------------------------------------------------- requirements and versions

REQUIRED = (
    ("erlen_db", "erlen-db (./extensions/db)"),
    ("erlen_forms", "erlen-forms (./extensions/forms)"),
    ("erlen_auth", "erlen-auth (./extensions/auth)"),
    ("flask_sqlalchemy", "flask-sqlalchemy"),
    ("flask_login", "flask-login"),
    ("flask_wtf", "flask-wtf"),
    ("argon2", "argon2-cffi"),
)


def missing(modules: Sequence[tuple[str, str]]) -> list[str]:
    """The distributions, of ``(module, distribution)`` pairs, whose module cannot be imported."""
    return [distribution for module, distribution in modules if importlib.util.find_spec(module) is None]


def versions() -> str:
    """The versions of the distributions this suite compares (``run.py`` reports only the core's)."""
    found = []
    for distribution in (
        "erlen-db",
        "erlen-forms",
        "erlen-auth",
        "flask-sqlalchemy",
        "flask-login",
        "flask-wtf",
        "wtforms",
        "sqlalchemy",
        "argon2-cffi",
    ):
        try:
            found.append(f"{distribution} {version(distribution)}")
        except PackageNotFoundError:
            found.append(f"{distribution} not installed")
    return ", ".join(found)


# --------------------------------------------------------------------------- generated apps


def write_apps(root: Path) -> None:
    """The two apps, each with its SQLite file under ``root``, and their templates."""
    templates = root / "templates"
    templates.mkdir()
    (templates / "me.html").write_text(ME_TEMPLATE, encoding="utf-8")
    (templates / "classic_login.html").write_text(CLASSIC_LOGIN_TEMPLATE, encoding="utf-8")
    erlen_url = f"sqlite:///{root / 'erlen.sqlite3'}"
    classic_url = f"sqlite:///{root / 'classic.sqlite3'}"
    harness.write_module(
        root,
        ERLEN_APP,
        f'''
        """A logged-in page: Erlen with erlen-db, erlen-forms and erlen-auth."""

        from flask import render_template

        import erlen
        from erlen_auth import login_required

        app = erlen.create_app(
            __name__,
            {{
                "PLUGINS": ["db", "forms", "auth"],
                "DB_URL": {erlen_url!r},
                "SECRET_KEY": {SECRET_KEY!r},
                # Plain HTTP on 127.0.0.1: the cookies must not be Secure-only.
                "SESSION_COOKIE_SECURE": False,
                "REMEMBER_COOKIE_SECURE": False,
            }},
            environ={{}},
        )


        @app.get("/ping")
        def ping():
            return "ok"


        @app.get("/me")
        @login_required
        def me():
            return render_template("me.html")
        ''',
    )
    harness.write_module(
        root,
        CLASSIC_APP,
        f'''
        """A logged-in page: Flask with Flask-SQLAlchemy, Flask-Login and Flask-WTF, the classic way."""

        from argon2 import PasswordHasher
        from argon2.exceptions import VerificationError
        from flask import Flask, redirect, render_template, url_for
        from flask_login import LoginManager, UserMixin, login_required, login_user
        from flask_sqlalchemy import SQLAlchemy
        from flask_wtf import FlaskForm
        from flask_wtf.csrf import CSRFProtect
        from sqlalchemy import String
        from sqlalchemy.orm import Mapped, mapped_column
        from wtforms import EmailField, PasswordField
        from wtforms.validators import DataRequired

        app = Flask(__name__)
        app.config["SECRET_KEY"] = {SECRET_KEY!r}
        app.config["SQLALCHEMY_DATABASE_URI"] = {classic_url!r}
        db = SQLAlchemy(app)
        csrf = CSRFProtect(app)
        login_manager = LoginManager(app)
        login_manager.login_view = "login"
        passwords = PasswordHasher()  # argon2id, argon2-cffi's defaults (erlen-auth's too)


        class User(UserMixin, db.Model):
            __tablename__ = "user"

            id: Mapped[int] = mapped_column(primary_key=True)
            email: Mapped[str] = mapped_column(String(254), unique=True)
            password_hash: Mapped[str] = mapped_column(String(255))


        @login_manager.user_loader
        def load_user(user_id):
            return db.session.get(User, int(user_id))


        class LoginForm(FlaskForm):
            email = EmailField("Email", [DataRequired()])
            password = PasswordField("Password", [DataRequired()])


        @app.route("/login", methods=["GET", "POST"])
        def login():
            form = LoginForm()
            if form.validate_on_submit():
                user = db.session.execute(db.select(User).filter_by(email=form.email.data)).scalar_one_or_none()
                if user is not None:
                    try:
                        passwords.verify(user.password_hash, form.password.data)
                    except VerificationError:
                        pass
                    else:
                        login_user(user)
                        return redirect(url_for("me"))
                form.form_errors.append("The email or password is not correct.")
            return render_template("classic_login.html", form=form)


        @app.get("/ping")
        def ping():
            return "ok"


        @app.get("/me")
        @login_required
        def me():
            return render_template("me.html")
        ''',
    )


def import_app(module: str) -> flask.Flask:
    return t.cast(flask.Flask, importlib.import_module(module).app)


def create_users(apps: Mapping[str, flask.Flask]) -> None:
    """Create each app's tables and its one user (argon2id hash of :data:`PASSWORD`)."""
    import erlen_auth
    import erlen_db

    erlen_app = apps[ERLEN]
    erlen_db.database_of(erlen_app).create_all()
    with erlen_app.app_context():
        erlen_auth.create_user(EMAIL, PASSWORD, confirmed=True)

    classic_app = apps[CLASSIC]
    module = importlib.import_module(CLASSIC_APP)
    with classic_app.app_context():
        module.db.create_all()
        module.db.session.add(module.User(email=EMAIL, password_hash=module.passwords.hash(PASSWORD)))
        module.db.session.commit()


# --------------------------------------------------------------------------- one request, two transports


@dataclass
class Answer:
    """One response: status code, headers (lower-case names; repeated ones in order) and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name.lower()), None)

    def set_cookies(self) -> SimpleCookie:
        cookie: SimpleCookie = SimpleCookie()
        for key, value in self.headers:
            if key == "set-cookie":
                cookie.load(value)
        return cookie


#: Sends one request: method, path, headers, form body (``b""`` for none).
Send = Callable[[str, str, Mapping[str, str], bytes], Answer]


def http_sender(port: int) -> Send:
    """Requests over HTTP to 127.0.0.1:``port``, each on a new connection."""

    def send(method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request(method, path, body=body or None, headers=dict(headers))
            response = connection.getresponse()
            return Answer(
                response.status, [(key.lower(), value) for key, value in response.getheaders()], response.read()
            )
        finally:
            connection.close()

    return send


def wsgi_environ(method: str, path: str, headers: Mapping[str, str], body: bytes) -> dict[str, t.Any]:
    """The WSGI environ of one request from :data:`REMOTE_ADDR`, as gunicorn would make it."""
    environ = EnvironBuilder(
        path=path, base_url="http://127.0.0.1/", method=method, headers=list(headers.items()), data=body or None
    ).get_environ()
    environ["REMOTE_ADDR"] = REMOTE_ADDR
    return environ


def wsgi_sender(app: flask.Flask) -> Send:
    """Requests to ``app``'s WSGI interface, in-process."""

    def send(method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: object = None) -> t.Any:
            started.append((status, response_headers))
            return buffer.write

        buffer = io.BytesIO()
        iterable = app(wsgi_environ(method, path, headers, body), start_response)
        try:
            for chunk in iterable:
                buffer.write(chunk)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        status, response_headers = started[-1]
        return Answer(
            int(status.split()[0]), [(key.lower(), value) for key, value in response_headers], buffer.getvalue()
        )

    return send


# --------------------------------------------------------------------------- logging in and checking


_CSRF_INPUT = re.compile(r"<input\b[^>]*\bname=\"csrf_token\"[^>]*>", re.IGNORECASE)
_VALUE = re.compile(r"\bvalue=\"([^\"]*)\"", re.IGNORECASE)


def csrf_token_in(page: bytes, name: str) -> str:
    """The value of the ``csrf_token`` field of the form on ``page``."""
    found = _CSRF_INPUT.search(page.decode("utf-8", "replace"))
    value = _VALUE.search(found.group(0)) if found else None
    if value is None:
        raise BenchError(f"{name}: the log-in page has no csrf_token field: {page[:500]!r}")
    return html.unescape(value.group(1))


def log_in(name: str, send: Send, login_path: str, cookie_name: str) -> str:
    """Log in through the app's own form (GET it, then POST it with its CSRF token); the session cookie's value.

    Fails unless the POST without a token is refused, the POST with it
    redirects, and the redirect sets a new session cookie.
    """
    base = {"User-Agent": USER_AGENT}
    page = send("GET", login_path, base, b"")
    if page.status != 200:
        raise BenchError(f"{name}: GET {login_path} answered {page.status} {page.body[:200]!r}")
    token = csrf_token_in(page.body, name)
    first = page.set_cookies().get(cookie_name)
    if first is None:
        raise BenchError(f"{name}: GET {login_path} set no {cookie_name!r} cookie (the CSRF secret lives there)")
    form = {"email": EMAIL, "password": PASSWORD}
    headers = {**base, "Cookie": f"{cookie_name}={first.value}", "Content-Type": "application/x-www-form-urlencoded"}
    refused = send("POST", login_path, headers, urllib.parse.urlencode(form).encode())
    if refused.status != 400:
        raise BenchError(f"{name}: a log-in POST without a CSRF token answered {refused.status}, expected 400")
    answer = send("POST", login_path, headers, urllib.parse.urlencode({**form, "csrf_token": token}).encode())
    if answer.status not in (302, 303):
        raise BenchError(
            f"{name}: the log-in POST answered {answer.status}, expected a redirect: {answer.body[:500]!r}"
        )
    morsel = answer.set_cookies().get(cookie_name)
    if morsel is None or not morsel.value or morsel.value == first.value:
        raise BenchError(f"{name}: the log-in did not set a new {cookie_name!r} cookie")
    if morsel["secure"]:
        raise BenchError(f"{name}: the session cookie is Secure-only, so a browser would not send it over HTTP")
    return morsel.value


def check_me(name: str, send: Send, headers: Mapping[str, str]) -> bytes:
    """Fail unless ``GET /me`` shows the user's email to the logged-in client and redirects an anonymous one.

    Returns the logged-in body. The logged-in answer must not set a cookie
    (the session is read, not rewritten, so every request costs the same).
    """
    answer = send("GET", "/me", headers, b"")
    if answer.status != 200 or f"<strong>{EMAIL}</strong>".encode() not in answer.body:
        raise BenchError(f"{name}: GET /me with the session cookie answered {answer.status} {answer.body[:300]!r}")
    if answer.header("set-cookie") is not None:
        raise BenchError(f"{name}: GET /me set a cookie on a plain page view: {answer.header('set-cookie')!r}")
    anonymous = send("GET", "/me", {"User-Agent": USER_AGENT}, b"")
    location = anonymous.header("location") or ""
    if anonymous.status not in (302, 303) or "login" not in location or EMAIL.encode() in anonymous.body:
        raise BenchError(f"{name}: an anonymous GET /me answered {anonymous.status} (Location {location!r})")
    return answer.body


LOGIN_PATHS = {ERLEN: ("/auth/login", "session"), CLASSIC: ("/login", "session")}


def logged_in_headers(apps_send: Mapping[str, Send]) -> tuple[dict[str, dict[str, str]], dict[str, bytes]]:
    """Log each contender in and check its page; the headers of its timed requests, and its page's body."""
    headers: dict[str, dict[str, str]] = {}
    bodies: dict[str, bytes] = {}
    for name, send in apps_send.items():
        login_path, cookie_name = LOGIN_PATHS[name]
        cookie = log_in(name, send, login_path, cookie_name)
        headers[name] = {"User-Agent": USER_AGENT, "Cookie": f"{cookie_name}={cookie}"}
        bodies[name] = check_me(name, send, headers[name])
    if len(set(bodies.values())) != 1:
        raise BenchError(f"the apps answered different pages: {bodies!r}")
    return headers, bodies


# --------------------------------------------------------------------------- the benchmarks


def bench_me(plan: Plan, root: Path) -> list[Result]:
    wsgi_title = f"Logged-in page requests/s, in-process WSGI ({CLASSIC} vs {ERLEN}: GET /me)"
    http_title = f"Logged-in page requests/s over HTTP, gunicorn 1 sync worker ({CLASSIC} vs {ERLEN}: GET /me)"
    absent = missing(REQUIRED)
    if absent:
        reason = f"not installed: {', '.join(absent)} (nox -s bench installs them)"
        return [
            harness.skipped(name="me_wsgi", title=wsgi_title, reason=reason),
            harness.skipped(name="me_http", title=http_title, reason=reason),
        ]
    write_apps(root)
    harness.compile_tree(root)
    apps = {CLASSIC: import_app(CLASSIC_APP), ERLEN: import_app(ERLEN_APP)}
    create_users(apps)
    common_notes = [
        "GET /me: login_required, then render_template of one small template file both apps share, showing "
        "current_user.email; the client sends the session cookie it got from logging in once through the app's "
        "own form (GET the form, POST it with its CSRF token; a POST without the token was refused).",
        "Each app has an SQLite file of its own holding one user. Erlen: PLUGINS ['db', 'forms', 'auth'], no "
        "TESTING, no debug, SESSION/REMEMBER_COOKIE_SECURE off (plain HTTP); its user loader checks the "
        "session token kept with the id. Classic: CSRFProtect(app), a user_loader doing "
        "db.session.get(User, int(id)). Both hash with argon2id at the same parameters (log-in only, not timed).",
        "Before timing, each page answered 200 with the user's email and set no cookie, and an anonymous "
        "GET /me was redirected to the log-in page.",
    ]
    extra = {"versions": versions()}
    wsgi = bench_me_wsgi(plan, apps, wsgi_title, common_notes, extra)
    return [wsgi, bench_me_http(plan, root, http_title, common_notes, extra)]


def wsgi_caller(app: flask.Flask, headers: Mapping[str, str]) -> Callable[[], None]:
    """One ``GET /me`` through the app's WSGI interface with ``headers``, body consumed; it must answer 200."""
    environ = wsgi_environ("GET", "/me", headers, b"")
    statuses: list[str] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: object = None) -> t.Any:
        statuses.append(status)
        return _write

    def call() -> None:
        statuses.clear()
        body = app(environ.copy(), start_response)
        try:
            for _ in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        if statuses[0][:3] != "200":
            raise BenchError(f"{app.name}: GET /me answered {statuses[0]} during the benchmark")

    return call


def _write(data: bytes) -> None:
    pass


def bench_me_wsgi(
    plan: Plan, apps: Mapping[str, flask.Flask], title: str, notes: Sequence[str], extra: Mapping[str, t.Any]
) -> Result:
    headers, _ = logged_in_headers({name: wsgi_sender(app) for name, app in apps.items()})
    callers = {name: wsgi_caller(app, headers[name]) for name, app in apps.items()}
    samples = harness.alternate(
        {
            name: functools.partial(harness.rate, call, seconds=plan.wsgi_round_seconds, max_calls=200_000)
            for name, call in callers.items()
        },
        rounds=plan.wsgi_rounds,
        max_seconds=plan.wsgi_rounds * plan.wsgi_round_seconds * len(callers) * 2,
    )
    return harness.compare(
        name="me_wsgi",
        title=title,
        unit="req/s",
        samples=samples,
        baseline=CLASSIC,
        subject=ERLEN,
        higher_is_better=True,
        target=ME_TARGET,
        notes=[
            "app(environ, start_response) called directly with a prepared environ carrying the session cookie "
            "(REMOTE_ADDR and User-Agent as at log-in, so Flask-Login's session protection passes); every answer "
            "must be 200. Framework overhead only: no server, no socket.",
            *notes,
        ],
        extra=dict(extra),
    )


def bench_me_http(plan: Plan, root: Path, title: str, notes: Sequence[str], extra: Mapping[str, t.Any]) -> Result:
    if not harness.gunicorn_available():
        reason = "gunicorn is not installed (pip install -r bench/requirements.txt)"
        return harness.skipped(name="me_http", title=title, reason=reason)
    errors = {CLASSIC: 0, ERLEN: 0}
    with contextlib.ExitStack() as stack:
        ports = {
            name: stack.enter_context(
                harness.gunicorn_server(f"{module}:app", chdir=root, expect_body=b"ok", path="/ping")
            )
            for name, module in ((CLASSIC, CLASSIC_APP), (ERLEN, ERLEN_APP))
        }
        headers, _ = logged_in_headers({name: http_sender(port) for name, port in ports.items()})

        def load(name: str) -> float:
            outcome = harness.http_load(
                ports[name],
                path="/me",
                headers=headers[name],
                seconds=plan.http_round_seconds,
                max_requests=1_000_000,
                threads=plan.http_threads,
            )
            errors[name] += outcome.errors
            if outcome.errors:
                raise BenchError(f"{name}: {outcome.errors} request(s) to /me did not answer 200 in a round")
            if outcome.ok == 0:
                raise BenchError(f"{name}: no successful request in a round")
            return outcome.per_second

        samples = harness.alternate(
            {CLASSIC: lambda: load(CLASSIC), ERLEN: lambda: load(ERLEN)},
            rounds=plan.http_rounds,
            max_seconds=plan.http_rounds * plan.http_round_seconds * 2 * 2,
        )
    return harness.compare(
        name="me_http",
        title=title,
        unit="req/s",
        samples=samples,
        baseline=CLASSIC,
        subject=ERLEN,
        higher_is_better=True,
        target=ME_TARGET,
        notes=[
            f"{plan.http_threads} client threads (http.client) in this process, each sending the session cookie "
            "with every request; the sync worker closes the connection after each response. Every answer had "
            "to be 200 (a redirect to the log-in page would have failed the suite).",
            "Client and server share the machine's cores: the ratio matters more than the absolute figures.",
            *notes,
        ],
        extra={**extra, "failed requests": sum(errors.values())},
    )
