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
* ``me_instructions``: instructions per ``GET /me`` of the same two apps,
  in-process, counted by valgrind's callgrind: each app is run twice in a
  subprocess (log in, one warm-up request, then N requests) and the
  difference of the counts divided by the difference of N is the cost of
  one request. Counts do not move with the machine's load, so they show a
  change of a few percent that timings hide. Target: Erlen / classic <= 1.0.

Each transport logs in on its own, through the real form: over HTTP against
the gunicorn server, in-process against the imported app. The apps are
generated as real files in a temporary folder, so gunicorn imports exactly
what the in-process runs import.
"""

from __future__ import annotations

import http.client
import importlib
import io
import sys
import typing as t
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import flask
import harness
from harness import BenchError, Result, Target

#: Where ``run.py`` writes this module's results: ``results/auth.json``.
SUITE = "auth"

ERLEN = "erlen + erlen-db + erlen-auth"
CLASSIC = "flask-sqlalchemy + flask-login + flask-wtf"

ME_TARGET = Target(">=", 1.0)
INSTRUCTIONS_TARGET = Target("<=", 1.0)

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


#: How much is measured: only requests/s, so the shared request figures are the whole plan.
Plan = harness.RequestPlan

FULL = Plan(wsgi_rounds=40, wsgi_round_seconds=0.1, http_rounds=30, http_round_seconds=0.5, http_threads=2)
QUICK = Plan(**harness.QUICK_REQUESTS)


def run(quick: bool) -> list[Result]:
    """Run the auth benchmarks; ``quick`` makes each a short smoke run.

    The Erlen app's models live on the shared ``erlen_db.Model``: run the
    suite once per process, as ``run.py`` does.
    """
    plan = QUICK if quick else FULL
    with harness.module_dir("erlen-bench-auth-") as root:
        results = bench_me(plan, root)
    return harness.with_plan(results, plan)


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


#: The distributions whose versions the results name.
DISTRIBUTIONS = (
    "erlen-db",
    "erlen-forms",
    "erlen-auth",
    "flask-sqlalchemy",
    "flask-login",
    "flask-wtf",
    "wtforms",
    "sqlalchemy",
    "argon2-cffi",
)


# --------------------------------------------------------------------------- generated apps


def write_apps(root: Path) -> None:
    """The two apps, each with its SQLite file under ``root``, and their templates."""
    harness.write_templates(root, {"me.html": ME_TEMPLATE, "classic_login.html": CLASSIC_LOGIN_TEMPLATE})
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
                # A session's last use is written once every 5 minutes by default: a run under valgrind lasts
                # longer, and the write would land in some runs and not others. Every benchmark here measures
                # the requests between two such writes.
                "AUTH_LAST_SEEN_INTERVAL": 86400,
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
    return harness.wsgi_environ(
        path, method=method, headers=headers, body=body, base_url="http://127.0.0.1/", remote_addr=REMOTE_ADDR
    )


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


def log_in(name: str, send: Send, login_path: str, cookie_name: str) -> str:
    """Log in through the app's own form (GET it, then POST it with its CSRF token); the session cookie's value.

    Fails unless the POST without a token is refused, the POST with it
    redirects, and the redirect sets a new session cookie.
    """
    base = {"User-Agent": USER_AGENT}
    page = send("GET", login_path, base, b"")
    if page.status != 200:
        raise BenchError(f"{name}: GET {login_path} answered {page.status} {page.body[:200]!r}")
    token = harness.csrf_token_in(page.body, name)
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
    absent = harness.missing(REQUIRED)
    if absent:
        return harness.skipped_all({"me_wsgi": wsgi_title, "me_http": http_title}, harness.not_installed(absent))
    write_apps(root)
    harness.compile_tree(root)
    apps = {CLASSIC: harness.import_app(CLASSIC_APP), ERLEN: harness.import_app(ERLEN_APP)}
    create_users(apps)
    common_notes = [
        "GET /me: login_required, then render_template of one small template file both apps share, showing "
        "current_user.email; the client sends the session cookie it got from logging in once through the app's "
        "own form (GET the form, POST it with its CSRF token; a POST without the token was refused).",
        "Each app has an SQLite file of its own holding one user. Erlen: PLUGINS ['db', 'forms', 'auth'], no "
        "TESTING, no debug, SESSION/REMEMBER_COOKIE_SECURE off (plain HTTP); its user loader looks the "
        "session key up in auth_session joined with auth_user (one query; last seen written at most every "
        "AUTH_LAST_SEEN_INTERVAL seconds, a day here, so not in the measured requests). Classic: CSRFProtect(app), a "
        "user_loader doing db.session.get(User, int(id)). Both hash with argon2id at the same parameters (log-in "
        "only, not timed).",
        "Before timing, each page answered 200 with the user's email and set no cookie, and an anonymous "
        "GET /me was redirected to the log-in page.",
    ]
    extra = {"versions": harness.versions(DISTRIBUTIONS)}
    wsgi = bench_me_wsgi(plan, apps, wsgi_title, common_notes, extra)
    counted = bench_me_instructions(plan, root, apps, common_notes, extra)
    return [wsgi, counted, bench_me_http(plan, root, http_title, common_notes, extra)]


#: The script counted by callgrind: one app in-process, with the session cookie of a log-in made before
#: (argon2 under valgrind would take minutes), one checked request, then N requests for /me.
CALLS_SCRIPT = """
import sys

sys.path[:0] = [{root!r}, {bench!r}]
import bench_auth
import harness

name, module, cookie, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
app = harness.import_app(module)
headers = {{"User-Agent": bench_auth.USER_AGENT, "Cookie": cookie}}
bench_auth.check_me(name, bench_auth.wsgi_sender(app), headers)
call = harness.wsgi_caller(app, [bench_auth.wsgi_environ("GET", "/me", headers, b"")])
for _ in range(count):
    call()
"""


def bench_me_instructions(
    plan: Plan, root: Path, apps: Mapping[str, flask.Flask], notes: Sequence[str], extra: Mapping[str, t.Any]
) -> Result:
    title = f"Instructions per logged-in request, in-process, callgrind ({CLASSIC} vs {ERLEN}: GET /me)"
    if not harness.valgrind_available():
        return harness.skipped(name="me_instructions", title=title, reason=harness.VALGRIND_MISSING)
    if plan is QUICK:
        # Four runs under valgrind take minutes: too long for a smoke run.
        return harness.skipped(name="me_instructions", title=title, reason="not counted in a --quick run")
    script = root / "auth_me_calls.py"
    script.write_text(CALLS_SCRIPT.format(root=str(root), bench=str(Path(__file__).resolve().parent)))
    counts = (20, 220)
    env = harness.clean_env(PYTHONHASHSEED="0")
    modules = {CLASSIC: CLASSIC_APP, ERLEN: ERLEN_APP}
    # Logged in here, in-process: the subprocesses only send the cookie (the same database, the same key).
    headers, _ = logged_in_headers({name: wsgi_sender(app) for name, app in apps.items()})
    samples = {
        name: [
            harness.instructions_per_call(
                [sys.executable, str(script), name, module, headers[name]["Cookie"]],
                counts,
                cwd=root,
                env=env,
                timeout=900,
            )
        ]
        for name, module in modules.items()
    }
    return harness.compare(
        name="me_instructions",
        title=title,
        unit="instructions/request",
        samples=samples,
        baseline=CLASSIC,
        subject=ERLEN,
        higher_is_better=False,
        target=INSTRUCTIONS_TARGET,
        notes=[
            f"valgrind --tool=callgrind of a subprocess that imports the app, checks the page with the session "
            f"cookie of a log-in made before (through the form, outside valgrind), then calls the WSGI app N "
            f"times; run with N = {counts[0]} and N = {counts[1]}, the difference of the two "
            f"totals divided by {counts[1] - counts[0]}. PYTHONHASHSEED=0, so both runs hash alike.",
            *notes,
        ],
        extra=dict(extra),
    )


def bench_me_wsgi(
    plan: Plan, apps: Mapping[str, flask.Flask], title: str, notes: Sequence[str], extra: Mapping[str, t.Any]
) -> Result:
    headers, _ = logged_in_headers({name: wsgi_sender(app) for name, app in apps.items()})
    callers = {
        name: harness.wsgi_caller(app, [wsgi_environ("GET", "/me", headers[name], b"")]) for name, app in apps.items()
    }
    samples = harness.alternate_rates(plan, callers, max_calls=200_000)
    return harness.compare_rates(
        name="me_wsgi",
        title=title,
        samples=samples,
        baseline=CLASSIC,
        subject=ERLEN,
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
        return harness.skipped(name="me_http", title=title, reason=harness.GUNICORN_MISSING)
    if not harness.wrk_available():
        return harness.skipped(name="me_http", title=title, reason=harness.WRK_MISSING)
    servers = {CLASSIC: f"{CLASSIC_APP}:app", ERLEN: f"{ERLEN_APP}:app"}
    with harness.gunicorn_servers(servers, chdir=root, expect_body=b"ok", path="/ping") as ports:
        headers, _ = logged_in_headers({name: http_sender(port) for name, port in ports.items()})
        # A redirect to the log-in page would be a cheap wrong answer: any failed request fails the suite.
        samples, failed = harness.alternate_http(plan, ports, path="/me", headers=headers, fail_on_error=True)
    return harness.compare_rates(
        name="me_http",
        title=title,
        samples=samples,
        baseline=CLASSIC,
        subject=ERLEN,
        target=ME_TARGET,
        notes=[
            f"{harness.load_generator(plan.http_threads)}, each connection sending the session "
            "cookie with every request; the sync worker closes the connection after each response. Every answer had "
            "to be 200 (a redirect to the log-in page would have failed the suite).",
            harness.SHARED_CORES_NOTE,
            *notes,
        ],
        extra={**extra, "failed requests": failed},
    )
