"""The pages issue 17 names, Erlen against its competitors: instructions per request (callgrind) and requests/s.

* ``hello_instructions``: ``GET /`` answering ``Hello, World!`` of an
  ``erlen.create_app`` app with six extensions (db, forms, mail, migrate, auth,
  admin) against plain Flask with the same ``SECRET_KEY``, for an anonymous
  client (no cookie). Target: Erlen costs at most 1 / 0.97 of Flask's.
* ``me_<database>_instructions``: ``GET /me``, a page behind
  ``login_required`` showing the user's email, for a logged-in client, on
  SQLite and PostgreSQL. Erlen with db, forms and auth against Flask-SQLAlchemy
  + Flask-Login + Flask-WTF (the apps of ``bench_auth``). Target: Erlen costs
  at most 1 / 1.3 of the classic stack's.
* ``post_<database>_instructions``: ``POST /notes/new`` of a logged-in client,
  a form with a CSRF token creating a row and redirecting: Erlen's
  ``model_form`` and ``ModelForm.save`` against a ``FlaskForm`` and
  ``db.session.add`` / ``commit``. Target: as ``me``.
* ``me_<database>_django_instructions`` and ``post_<database>_django_instructions``:
  the same two pages against Django 5 configured as its docs recommend for
  production: ``DEBUG`` off (the cached template loader), persistent
  connections (``CONN_MAX_AGE = 600``), ``startproject``'s apps and middleware,
  sessions in the database (its default), the view ``login_required``, a
  ``ModelForm``, logged in through ``LoginView``'s form (``bench/pages_django``
  holds its model). Targets: ``me`` at most 1 / 1.3 of Django's, ``post`` at
  most Django's.

Every contender's SQLite file is in WAL mode (erlen-db sets it; the classic
app and Django turn it on in their set-up): a commit's cost depends on it.

Each app is run in a subprocess under valgrind's callgrind
(:func:`harness.instructions_by_part`): it creates its tables and user, logs
in through its own form, sends each request a few times to warm up, then
``N`` times between two marks; the count between the marks divided by ``N``
is one request's cost, the database server's own work excluded (it runs in
another process). Counts do not move with the machine's load.

Requests/s over HTTP of ``me`` and ``post``, the same three apps (the same generated modules, served as
``module:app``), on SQLite and PostgreSQL:

* ``me_<database>_http`` and ``me_<database>_django_http``: ``GET /me`` of the logged-in client. Targets:
  Erlen / classic >= 1.3 on both databases, Erlen / Django >= 1.3 on SQLite (on PostgreSQL the figure
  against Django informs, issue 17 sets no target there).
* ``post_<database>_http`` and ``post_<database>_django_http``: ``POST /notes/new`` with the form's CSRF
  token. Targets: Erlen / classic >= 1.3 on both databases, Erlen / Django >= 1.0 on SQLite.

Each contender creates its tables and user and logs in through its own form in a process of its own (its
``setup``, against the database its server then uses: Erlen's and Django's sessions are rows there, the
classic app's is the signed cookie), then gets the note form's CSRF token. Each is served by gunicorn, 1
sync worker, on a free port of 127.0.0.1; wrk, in its own process, sends its session cookie with every
request (and, for ``post``, the form with its token and Django's ``csrftoken`` cookie). Before timing, ``me``
must answer 200 with the email and redirect an anonymous client to the log-in page, and ``post`` must
redirect to a new note that ``GET`` shows (twice, two notes), create none for an anonymous client and
send an anonymous ``GET`` of the form to the log-in page;
while timing, any other answer (for ``post``, a redirect anywhere but ``/notes/<id>``) fails the run. The
three contenders alternate in each round, in reverse order every other round
(``harness.alternate_http``); over :data:`harness.LOAD_PER_CPU_LIMIT` load per CPU the targets are not
judged.

Run alone: ``python bench/bench_pages.py [--parts instructions http] [--database sqlite postgresql]
[--pages hello me post] [--quick]`` (``--quick``: the HTTP part's short plan). A ``--quick`` run of
``run.py`` answers each page of each app once on SQLite without counting and times ``me`` and ``post``
over HTTP on SQLite for two short rounds, so the apps and the servers cannot rot.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import textwrap
import typing as t
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import bench_auth
import harness
from harness import BenchError, Result, Target

#: Where ``run.py`` writes this module's results: ``results/pages.json``.
SUITE = "pages"

SECRET_KEY = "erlen-bench-pages-secret-key-0123456789abcdef"
EMAIL = "ada.lovelace@example.com"
PASSWORD = "correct horse battery staple"
USER_AGENT = "erlen-bench/1"
SIX = ["db", "forms", "mail", "migrate", "auth", "admin"]

#: Requests counted between the marks, after the warm-up.
COUNT = 40
WARM_UP = 5

HELLO_TARGET = Target("<=", 1 / 0.97)
PAGE_TARGET = Target("<=", 1 / 1.3)
#: Issue 17's targets by page and competitor: against Django, the logged-in page 1.3 times, the form POST as cheap.
TARGETS = {
    ("hello", "competitor"): HELLO_TARGET,
    ("me", "competitor"): PAGE_TARGET,
    ("post", "competitor"): PAGE_TARGET,
    ("me", "django"): PAGE_TARGET,
    ("post", "django"): Target("<=", 1.0),
}

ME_TEMPLATE = """<!doctype html>
<title>Your account</title>
<h1>Your account</h1>
<p>Signed in as <strong>{{ current_user.email }}</strong>.</p>
"""

NEW_TEMPLATE = """<!doctype html>
<title>New note</title>
<form method="post">
  {{ form.hidden_tag() }}
  {{ form.title.label }} {{ form.title() }}
  {{ form.body.label }} {{ form.body() }}
  <button type="submit">Save</button>
</form>
"""

CLASSIC_LOGIN_TEMPLATE = """<!doctype html>
<title>Log in</title>
<form method="post">
  {{ form.csrf_token }}
  {{ form.email() }} {{ form.password() }}
  <button type="submit">Log in</button>
</form>
"""

ERLEN_SETTINGS = f"""
    "SECRET_KEY": {SECRET_KEY!r},
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_SECURE": False,
    # A session's last use is written once every 5 minutes by default: never during a counted run.
    "AUTH_LAST_SEEN_INTERVAL": 86400,
"""

ERLEN_HELLO = f"""
import erlen

app = erlen.create_app(
    __name__,
    {{"PLUGINS": {SIX!r}, "DB_URL": DB_URL, {ERLEN_SETTINGS}}},
    environ={{}},
)


@app.get("/")
def hello():
    return "Hello, World!"


def setup(client):
    return {{}}
"""

FLASK_HELLO = f"""
from flask import Flask

app = Flask(__name__)
app.config["SECRET_KEY"] = {SECRET_KEY!r}


@app.get("/")
def hello():
    return "Hello, World!"


def setup(client):
    return {{}}
"""

ERLEN_PAGES = f"""
from flask import redirect, render_template, url_for
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

import erlen
import erlen_auth
import erlen_db
import erlen_forms
from erlen_auth import login_required

app = erlen.create_app(
    __name__,
    {{"PLUGINS": ["db", "forms", "auth"], "DB_URL": DB_URL, {ERLEN_SETTINGS}}},
    environ={{}},
)


class Note(erlen_db.Model):
    __tablename__ = "bench_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")


NoteForm = erlen_forms.model_form(Note, only=["title", "body"])


@app.get("/me")
@login_required
def me():
    return render_template("me.html")


@app.route("/notes/new", methods=["GET", "POST"])
@login_required
def new_note():
    form = NoteForm()
    if form.validate_on_submit():
        note = form.save()
        return redirect(url_for("show_note", note_id=note.id))
    return render_template("new.html", form=form)


@app.get("/notes/<int:note_id>")
@login_required
def show_note(note_id):
    return erlen_db.get_or_404(Note, note_id).title


def setup(client):
    erlen_db.database_of(app).create_all()
    with app.app_context():
        erlen_auth.create_user(EMAIL, PASSWORD, confirmed=True)
    page = client.get("/auth/login")
    token = harness.csrf_token_in(page.data, "erlen")
    answer = client.post(
        "/auth/login", data={{"email": EMAIL, "password": PASSWORD, "csrf_token": token}}, headers=HEADERS
    )
    assert answer.status_code in (302, 303), (answer.status_code, answer.data[:500])
    return {{}}
"""

CLASSIC_PAGES = f"""
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from flask import Flask, redirect, render_template, url_for
from flask_login import LoginManager, UserMixin, login_required, login_user
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import String, Text, text
from sqlalchemy.orm import Mapped, mapped_column
from wtforms import EmailField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

app = Flask(__name__)
app.config["SECRET_KEY"] = {SECRET_KEY!r}
app.config["SQLALCHEMY_DATABASE_URI"] = DB_URL
db = SQLAlchemy(app)
csrf = CSRFProtect(app)
login_manager = LoginManager(app)
login_manager.login_view = "login"
passwords = PasswordHasher()


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))


class Note(db.Model):
    __tablename__ = "bench_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")


@login_manager.user_loader
def load_user(user_id):
    return db.session.get(User, int(user_id))


class LoginForm(FlaskForm):
    email = EmailField("Email", [DataRequired()])
    password = PasswordField("Password", [DataRequired()])


class NoteForm(FlaskForm):
    title = StringField("Title", [DataRequired(), Length(max=200)])
    body = TextAreaField("Body")


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
    return render_template("classic_login.html", form=form)


@app.get("/me")
@login_required
def me():
    return render_template("me.html")


@app.route("/notes/new", methods=["GET", "POST"])
@login_required
def new_note():
    form = NoteForm()
    if form.validate_on_submit():
        note = Note()
        form.populate_obj(note)
        db.session.add(note)
        db.session.commit()
        return redirect(url_for("show_note", note_id=note.id))
    return render_template("new.html", form=form)


@app.get("/notes/<int:note_id>")
@login_required
def show_note(note_id):
    return db.get_or_404(Note, note_id).title


def setup(client):
    with app.app_context():
        if DB_URL.startswith("sqlite"):
            # WAL on SQLite for every contender, as erlen-db sets it (a file keeps its journal mode).
            db.session.execute(text("PRAGMA journal_mode=WAL"))
        db.create_all()
        db.session.add(User(email=EMAIL, password_hash=passwords.hash(PASSWORD)))
        db.session.commit()
    page = client.get("/login")
    token = harness.csrf_token_in(page.data, "classic")
    answer = client.post("/login", data={{"email": EMAIL, "password": PASSWORD, "csrf_token": token}}, headers=HEADERS)
    assert answer.status_code in (302, 303), (answer.status_code, answer.data[:500])
    return {{}}
"""

DJANGO_ME_TEMPLATE = """<!doctype html>
<title>Your account</title>
<h1>Your account</h1>
<p>Signed in as <strong>{{ user.email }}</strong>.</p>
"""

DJANGO_NEW_TEMPLATE = """<!doctype html>
<title>New note</title>
<form method="post">
  {% csrf_token %}
  {{ form.title.label_tag }} {{ form.title }}
  {{ form.body.label_tag }} {{ form.body }}
  <button type="submit">Save</button>
</form>
"""

DJANGO_LOGIN_TEMPLATE = """<!doctype html>
<title>Log in</title>
<form method="post">
  {% csrf_token %}
  {{ form.username }} {{ form.password }}
  <button type="submit">Log in</button>
</form>
"""

#: Django as its docs recommend for production: DEBUG off (the cached template loader on), persistent
#: connections (CONN_MAX_AGE, "Databases: Persistent connections"), the middleware and apps of
#: ``startproject``, sessions in the database (the default), argon2 (its recommended hasher, as the others').
DJANGO_PAGES = f"""
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import django
from django.conf import settings


def _database(url):
    if url.startswith("sqlite:///"):
        return {{"ENGINE": "django.db.backends.sqlite3", "NAME": url[len("sqlite:///") :], "CONN_MAX_AGE": 600}}
    parts = urlsplit(url)
    return {{
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "HOST": parts.hostname,
        "PORT": parts.port or 5432,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "CONN_MAX_AGE": 600,
        # The schema of this contender (search_path), as the other contenders' URLs carry it.
        "OPTIONS": {{"options": parse_qs(parts.query).get("options", [""])[0]}},
    }}


settings.configure(
    DEBUG=False,
    SECRET_KEY={SECRET_KEY!r},
    ALLOWED_HOSTS=["localhost", "127.0.0.1"],
    ROOT_URLCONF=__name__,
    USE_TZ=True,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "pages_django",
    ],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ],
    TEMPLATES=[
        {{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [str(Path(__file__).resolve().parent / "django_templates")],
            "OPTIONS": {{
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            }},
        }}
    ],
    DATABASES={{"default": _database(DB_URL)}},
    PASSWORD_HASHERS=["django.contrib.auth.hashers.Argon2PasswordHasher"],
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    LOGIN_URL="/login",
    LOGIN_REDIRECT_URL="/me",
)
django.setup()

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path

from pages_django.models import Note

CSRF_FIELD = "csrfmiddlewaretoken"
LOGIN_PATH = "/login"
LOGIN_FIELDS = ("username", "password")


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["title", "body"]


@login_required
def me(request):
    return render(request, "me.html")


@login_required
def new_note(request):
    form = NoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        note = form.save()
        return redirect("show_note", note_id=note.id)
    return render(request, "new.html", {{"form": form}})


@login_required
def show_note(request, note_id):
    return HttpResponse(get_object_or_404(Note, pk=note_id).title)


urlpatterns = [
    path("login", LoginView.as_view(template_name="login.html")),
    path("me", me),
    path("notes/new", new_note),
    path("notes/<int:note_id>", show_note, name="show_note"),
]
app = get_wsgi_application()


def setup(client):
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
    call_command("migrate", run_syncdb=True, verbosity=0)
    get_user_model().objects.create_user(username=EMAIL, email=EMAIL, password=PASSWORD)
    page = client.get(LOGIN_PATH)
    token = harness.csrf_token_in(page.data, "django", CSRF_FIELD)
    answer = client.post(
        LOGIN_PATH, data={{"username": EMAIL, "password": PASSWORD, CSRF_FIELD: token}}, headers=HEADERS
    )
    assert answer.status_code in (302, 303), (answer.status_code, answer.data[:500])
    return {{}}
"""

#: Each contender's app source, by page kind: hello, or the logged-in pages (me, post).
APPS = {
    ("hello", "erlen"): ERLEN_HELLO,
    ("hello", "competitor"): FLASK_HELLO,
    ("pages", "erlen"): ERLEN_PAGES,
    ("pages", "competitor"): CLASSIC_PAGES,
    ("pages", "django"): DJANGO_PAGES,
}

NAMES = {
    "hello": {"erlen": f"erlen + {', '.join(SIX)}", "competitor": "flask with a SECRET_KEY"},
    "me": {
        "erlen": "erlen + db, forms, auth",
        "competitor": "flask-sqlalchemy + flask-login + flask-wtf",
        "django": "django (persistent connections)",
    },
    "post": {
        "erlen": "erlen + db, forms, auth",
        "competitor": "flask-sqlalchemy + flask-login + flask-wtf",
        "django": "django (persistent connections)",
    },
}

#: The script callgrind counts: argv is ``module page count``. It sets up, warms up, marks, requests, marks.
CALLS_SCRIPT = """
import sys

sys.path[:0] = [{root!r}, {bench!r}]
import re

import harness
import werkzeug.test

module_name, page, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
module = __import__(module_name)
app = module.app
# Django's handler has no test client of its own: werkzeug's, which Flask's extends, serves any WSGI app.
client = app.test_client() if hasattr(app, "test_client") else werkzeug.test.Client(app)
csrf_field = getattr(module, "CSRF_FIELD", "csrf_token")
module.setup(client)
headers = dict(module.HEADERS)
cookie = "; ".join(f"{{c.key}}={{c.value}}" for c in client._cookies.values())
if cookie:
    headers["Cookie"] = cookie
if page == "hello":
    environ = harness.wsgi_environ("/", headers=headers, remote_addr="127.0.0.1")
    expect = 200
elif page == "me":
    answer = client.get("/me", headers=headers)
    assert answer.status_code == 200 and module.EMAIL.encode() in answer.data, (answer.status_code, answer.data[:300])
    environ = harness.wsgi_environ("/me", headers=headers, remote_addr="127.0.0.1")
    expect = 200
else:
    form = client.get("/notes/new", headers=headers)
    token = harness.csrf_token_in(form.data, module_name, csrf_field)
    cookie = "; ".join(f"{{c.key}}={{c.value}}" for c in client._cookies.values())
    headers["Cookie"] = cookie
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    import urllib.parse

    body = urllib.parse.urlencode({{csrf_field: token, "title": "A note", "body": "Its text."}}).encode()
    environ = harness.wsgi_environ("/notes/new", method="POST", headers=headers, body=body, remote_addr="127.0.0.1")
    expect = 302
    # A 302 to the log-in page (or back to the form) has the status of a saved note's: check once where it goes.
    checked = harness.wsgi_environ("/notes/new", method="POST", headers=headers, body=body, remote_addr="127.0.0.1")
    _, status, answer_headers = werkzeug.test.run_wsgi_app(app, checked)
    location = urllib.parse.urlsplit(answer_headers.get("Location", "")).path
    assert status.startswith("302") and re.fullmatch(r"/notes/\\d+", location), (module_name, status, location)
call = harness.wsgi_caller(app, [environ], expect_status=expect)
harness.start_instrumentation()
for _ in range({warm_up}):
    call()
harness.mark()
for _ in range(count):
    call()
harness.mark()
"""


#: Requests/s over HTTP: targets by page and competitor (issue 17); ``None``: no target, the figure informs.
HTTP_TARGETS: dict[tuple[str, str, str], Target | None] = {
    ("me", "sqlite", "competitor"): Target(">=", 1.3),
    ("me", "sqlite", "django"): Target(">=", 1.3),
    ("me", "postgresql", "competitor"): Target(">=", 1.3),
    ("me", "postgresql", "django"): None,
    ("post", "sqlite", "competitor"): Target(">=", 1.3),
    ("post", "sqlite", "django"): Target(">=", 1.0),
    ("post", "postgresql", "competitor"): Target(">=", 1.3),
    ("post", "postgresql", "django"): None,
}

#: The contenders of the HTTP runs, in the order their servers start and each round runs (reversed every other).
HTTP_CONTENDERS = ("erlen", "competitor", "django")

#: Each contender's log-in page: probed (any 200 answer) until its gunicorn serves.
LOGIN_PATHS = {"erlen": "/auth/login", "competitor": "/login", "django": "/login"}

#: The path a form POST must redirect to: the note it created.
NOTE_PATH = re.compile(r"/notes/\d+")
#: The same as a Lua pattern, for wrk's check of every timed POST's ``Location``.
NOTE_PATH_LUA = "^/notes/%d+$"

#: The form every timed POST sends, beside the contender's CSRF token.
NOTE_FORM = {"title": "A note", "body": "Its text."}

#: How much the HTTP runs measure (the in-process fields are unused: these runs time over HTTP only).
HttpPlan = harness.RequestPlan

FULL_HTTP = HttpPlan(wsgi_rounds=0, wsgi_round_seconds=0.0, http_rounds=20, http_round_seconds=0.5, http_threads=2)
QUICK_HTTP = HttpPlan(**harness.QUICK_REQUESTS)

#: Run in a process of its own per contender before its server starts (argv: ``module``): creates the tables
#: and the user, logs in through the app's own form (``setup``), gets the note form, and prints the session's
#: cookies and the form's CSRF token as JSON on its last line.
SESSION_SCRIPT = """
import json
import sys

sys.path[:0] = [{root!r}, {bench!r}]
import harness
import werkzeug.test

module_name = sys.argv[1]
module = __import__(module_name)
app = module.app
client = app.test_client() if hasattr(app, "test_client") else werkzeug.test.Client(app)
csrf_field = getattr(module, "CSRF_FIELD", "csrf_token")
module.setup(client)
form = client.get("/notes/new", headers=module.HEADERS)
assert form.status_code == 200, (form.status_code, form.data[:300])
token = harness.csrf_token_in(form.data, module_name, csrf_field)
cookie = "; ".join(f"{{c.key}}={{c.value}}" for c in client._cookies.values())
print(json.dumps({{"cookie": cookie, "csrf_field": csrf_field, "token": token}}))
"""


def write_app(root: Path, module: str, source: str, url: str) -> None:
    """The generated app ``module`` under ``root``, using the database ``url``."""
    prelude = textwrap.dedent(
        f"""
        import harness

        DB_URL = {url!r}
        EMAIL = {EMAIL!r}
        PASSWORD = {PASSWORD!r}
        HEADERS = {{"User-Agent": {USER_AGENT!r}}}
        """
    )
    (root / f"{module}.py").write_text(prelude + source)


def calls_script(root: Path) -> Path:
    """``CALLS_SCRIPT`` written into ``root``, once."""
    script = root / "pages_calls.py"
    if not script.exists():
        script.write_text(
            CALLS_SCRIPT.format(root=str(root), bench=str(Path(__file__).resolve().parent), warm_up=WARM_UP)
        )
    return script


def answer_page(root: Path, module: str, page: str) -> None:
    """Run ``page`` of the generated app ``module`` as ``count_page`` does, without callgrind and with one request.

    The ``--quick`` run's check that every app still logs in and answers its page as expected.
    """
    script = calls_script(root)
    harness.run_checked(
        [sys.executable, str(script), module, page, "1"], cwd=root, env=harness.clean_env(), timeout=300
    )


def write_page_templates(root: Path) -> None:
    """The templates of every generated app under ``root`` (Flask's in ``templates``, Django's beside), once."""
    if (root / "templates").exists():
        return
    harness.write_templates(
        root, {"me.html": ME_TEMPLATE, "new.html": NEW_TEMPLATE, "classic_login.html": CLASSIC_LOGIN_TEMPLATE}
    )
    django_templates = root / "django_templates"
    django_templates.mkdir()
    for file, source in (
        ("me.html", DJANGO_ME_TEMPLATE),
        ("new.html", DJANGO_NEW_TEMPLATE),
        ("login.html", DJANGO_LOGIN_TEMPLATE),
    ):
        (django_templates / file).write_text(source, encoding="utf-8")


def count_page(root: Path, module: str, page: str, count: int = COUNT) -> float:
    """Instructions per request of ``page`` of the generated app ``module``."""
    script = calls_script(root)
    starter = harness.instrumentation_starter(root)
    extra = {"ERLEN_BENCH_CALLGRIND_STARTER": str(starter)} if starter else {}
    env = harness.clean_env(PYTHONHASHSEED="0", **extra)
    parts = harness.instructions_by_part(
        [sys.executable, str(script), module, page, str(count)],
        marks=2,
        cwd=root,
        env=env,
        timeout=1800,
        valgrind_options=["--instr-atstart=no"] if starter else [],
    )
    return parts[1] / count


def measure(root: Path, pages: Sequence[str], databases: Sequence[str], *, quick: bool = False) -> list[Result]:
    """Count each page on each database, every contender, and compare.

    :param root: the folder of the generated apps.
    :param pages: ``hello``, ``me``, ``post``.
    :param databases: ``sqlite``, ``postgresql``.
    :param quick: run each app's page once without callgrind instead (its results are skipped, not counted).
    """
    write_page_templates(root)
    results: list[Result] = []
    django_absent = harness.missing([("django", "django")])
    for page in pages:
        kind = "hello" if page == "hello" else "pages"
        contenders = [c for c in NAMES[page] if not (c == "django" and django_absent)]
        for database in ["sqlite"] if page == "hello" else databases:
            name = f"{page}_instructions" if page == "hello" else f"{page}_{database}_instructions"
            title = f"Instructions per request, {page} ({database}), callgrind"
            if "django" in NAMES[page] and django_absent:
                results.append(
                    harness.skipped(
                        name=name.replace("_instructions", "_django_instructions"),
                        title=f"{title} against Django",
                        reason=harness.not_installed(django_absent),
                    )
                )
            samples: dict[str, list[float]] = {}
            try:
                with database_urls(root, page, database, contenders) as urls:
                    for contender in contenders:
                        module = f"pages_{page}_{database}_{contender}"
                        write_app(root, module, APPS[kind, contender], urls[contender])
                        if quick:
                            answer_page(root, module, page)
                        else:
                            samples[NAMES[page][contender]] = [count_page(root, module, page)]
            except BenchError as exc:
                if "not reachable" not in str(exc):
                    raise
                results.append(harness.skipped(name=name, title=title, reason=str(exc)))
                continue
            if quick:
                reason = f"not counted in a --quick run; every contender answered {page} once, as counted runs do"
                results.append(harness.skipped(name=name, title=title, reason=reason))
                continue
            notes = [
                f"callgrind, in-process WSGI calls: {WARM_UP} warm-up requests, then {COUNT} counted "
                "(harness.instructions_by_part); the database server's work is not counted.",
            ]
            if "django" in contenders:
                notes.append(
                    "django: DEBUG off, CONN_MAX_AGE = 600, startproject's apps and middleware, database sessions "
                    "(the default), a ModelForm; SQLite in WAL mode for every contender"
                )
            for competitor in [c for c in contenders if c != "erlen"]:
                versus_django = competitor == "django"
                results.append(
                    harness.compare(
                        name=name.replace("_instructions", "_django_instructions") if versus_django else name,
                        title=title + (" against Django" if versus_django else ""),
                        unit="instructions/request",
                        samples=samples,
                        baseline=NAMES[page][competitor],
                        subject=NAMES[page]["erlen"],
                        higher_is_better=False,
                        target=TARGETS[page, competitor],
                        notes=notes,
                    )
                )
    return results


@contextlib.contextmanager
def database_urls(root: Path, page: str, database: str, contenders: Sequence[str]) -> Iterator[dict[str, str]]:
    """Each contender's database URL for ``page`` on ``database``: an SQLite file each, or a PostgreSQL schema each."""
    if database == "sqlite":
        yield {contender: f"sqlite:///{root / f'{page}_{contender}.sqlite3'}" for contender in contenders}
        return
    with contextlib.ExitStack() as stack:
        yield {
            contender: stack.enter_context(harness.postgres_schema_url(f"erlen_bench_pages_{contender}"))
            for contender in contenders
        }


# --------------------------------------------------------------------------- requests/s over HTTP


def http_name(page: str, database: str, competitor: str) -> str:
    """The result's name of ``page`` on ``database`` over HTTP against ``competitor``: ``me_sqlite_django_http``."""
    return f"{page}_{database}_django_http" if competitor == "django" else f"{page}_{database}_http"


def http_title(page: str, database: str, competitor: str) -> str:
    """The result's title of ``page`` on ``database`` over HTTP against ``competitor``."""
    request = "GET /me" if page == "me" else "POST /notes/new"
    return (
        f"Requests/s over HTTP, gunicorn 1 sync worker, {request} ({database}): {NAMES[page]['erlen']} vs "
        f"{NAMES[page][competitor]}"
    )


def skipped_http(pages: Sequence[str], database: str, reason: str) -> list[Result]:
    """Every HTTP result of ``pages`` on ``database`` skipped for ``reason``."""
    return [
        harness.skipped(
            name=http_name(page, database, competitor), title=http_title(page, database, competitor), reason=reason
        )
        for page in pages
        for competitor in HTTP_CONTENDERS[1:]
    ]


def log_in_in_process(root: Path, module: str) -> dict[str, str]:
    """Set up the app ``module`` in a process of its own and log in; its cookies and the note form's CSRF token.

    The server started after it uses the same database file or schema: Erlen's and Django's sessions are
    rows there, the classic app's is the signed cookie, and the CSRF secrets live in the session or a cookie.

    :param root: the folder of the generated apps.
    :param module: the app's module name.
    :returns: ``cookie`` (a ``Cookie`` header's value), ``csrf_field`` and ``token``.
    """
    script = root / "pages_session.py"
    if not script.exists():
        script.write_text(SESSION_SCRIPT.format(root=str(root), bench=str(Path(__file__).resolve().parent)))
    out, _ = harness.run_checked([sys.executable, str(script), module], cwd=root, env=harness.clean_env(), timeout=300)
    session: dict[str, str] = json.loads(out.strip().splitlines()[-1])
    return session


def location_path(answer: bench_auth.Answer) -> str:
    """The path of ``answer``'s ``Location`` header, its scheme and host dropped (empty without one)."""
    return urllib.parse.urlsplit(answer.header("location") or "").path


def check_post(name: str, send: bench_auth.Send, headers: Mapping[str, str], body: bytes) -> int:
    """Fail unless the logged-in form POST creates a note and redirects to it, twice, and an anonymous one does not.

    :param name: the contender, for the messages.
    :param send: sends one request to its server.
    :param headers: the timed requests' headers (session cookie, form content type).
    :param body: the timed requests' body (the form with its CSRF token).
    :returns: the redirect's status, which the timed requests must answer.
    """
    shown_headers = {key: value for key, value in headers.items() if key != "Content-Type"}
    created: list[str] = []
    statuses: set[int] = set()
    for _ in range(2):
        answer = send("POST", "/notes/new", headers, body)
        path = location_path(answer)
        if answer.status not in (302, 303) or not NOTE_PATH.fullmatch(path):
            raise BenchError(
                f"{name}: POST /notes/new answered {answer.status} (Location {answer.header('location')!r}), "
                f"expected a redirect to the new note: {answer.body[:300]!r}"
            )
        shown = send("GET", path, shown_headers, b"")
        if shown.status != 200 or shown.body != NOTE_FORM["title"].encode():
            raise BenchError(f"{name}: GET {path} after the POST answered {shown.status} {shown.body[:200]!r}")
        created.append(path)
        statuses.add(answer.status)
    if created[0] == created[1]:
        raise BenchError(f"{name}: two POSTs redirected to the same note {created[0]!r}: no row was created")
    anonymous = send(
        "POST", "/notes/new", {"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"}, body
    )
    if NOTE_PATH.fullmatch(location_path(anonymous)):
        raise BenchError(f"{name}: an anonymous POST /notes/new created a note ({anonymous.header('location')!r})")
    # The anonymous POST above is refused by the CSRF check before login_required runs: the form itself must be
    # behind the log-in, or a contender without login_required would pass.
    form = send("GET", "/notes/new", {"User-Agent": USER_AGENT}, b"")
    if form.status not in (302, 303) or "login" not in location_path(form):
        raise BenchError(
            f"{name}: an anonymous GET /notes/new answered {form.status} (Location {form.header('location')!r}), "
            "expected a redirect to the log-in page"
        )
    if len(statuses) != 1:
        raise BenchError(f"{name}: two POSTs redirected with different statuses {sorted(statuses)}")
    return statuses.pop()


def measure_http(root: Path, pages: Sequence[str], databases: Sequence[str], plan: HttpPlan) -> list[Result]:
    """Requests/s of each page on each database, the three contenders alternating, over HTTP; compared.

    :param root: the folder of the generated apps.
    :param pages: ``me``, ``post``.
    :param databases: ``sqlite``, ``postgresql``.
    :param plan: rounds, seconds a round and wrk's connections.
    """
    absent = harness.missing([("django", "django"), ("flask_login", "flask-login"), ("erlen_auth", "erlen-auth")])
    reason: str | None = None
    if absent:
        reason = harness.not_installed(absent)
    elif not harness.gunicorn_available():
        reason = harness.GUNICORN_MISSING
    elif not harness.wrk_available():
        reason = harness.WRK_MISSING
    if reason is not None:
        return [result for database in databases for result in skipped_http(pages, database, reason)]
    write_page_templates(root)
    results: list[Result] = []
    for database in databases:
        try:
            with database_urls(root, "http", database, HTTP_CONTENDERS) as urls:
                results.extend(measure_http_on(root, pages, database, urls, plan))
        except BenchError as exc:
            if "not reachable" not in str(exc):
                raise
            results.extend(skipped_http(pages, database, str(exc)))
    return harness.with_plan(results, plan)


def measure_http_on(
    root: Path, pages: Sequence[str], database: str, urls: Mapping[str, str], plan: HttpPlan
) -> list[Result]:
    """:func:`measure_http` on one ``database``, each contender's at ``urls``: one server each for every page."""
    names = NAMES["me"]
    modules = {contender: f"pages_http_{database}_{contender}" for contender in HTTP_CONTENDERS}
    sessions: dict[str, dict[str, str]] = {}
    for contender, module in modules.items():
        write_app(root, module, APPS["pages", contender], urls[contender])
        sessions[names[contender]] = log_in_in_process(root, module)
    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        ports = {
            names[contender]: stack.enter_context(
                harness.gunicorn_server(
                    f"{module}:app",
                    chdir=root,
                    expect_body=None,
                    path=LOGIN_PATHS[contender],
                    # The generated modules import the harness, and Django its app pages_django, from bench/.
                    pythonpath=[Path(__file__).resolve().parent],
                )
            )
            for contender, module in modules.items()
        }
        cookies = {name: {"User-Agent": USER_AGENT, "Cookie": session["cookie"]} for name, session in sessions.items()}
        for page in pages:
            load_before = harness.load_average()
            if page == "me":
                for name, port in ports.items():
                    bench_auth.check_me(name, bench_auth.http_sender(port), cookies[name])
                samples, failed = harness.alternate_http(
                    plan, ports, path="/me", headers=cookies, fail_on_error=True, reverse_every_other=True
                )
                checked = (
                    "Before timing, each GET /me answered 200 with the user's email and set no cookie, and an "
                    "anonymous GET /me was redirected to the log-in page; during it, every answer had to be 200."
                )
            else:
                form_headers = {
                    name: {**cookies[name], "Content-Type": "application/x-www-form-urlencoded"} for name in ports
                }
                bodies = {
                    name: urllib.parse.urlencode({session["csrf_field"]: session["token"], **NOTE_FORM}).encode()
                    for name, session in sessions.items()
                }
                statuses = {
                    check_post(name, bench_auth.http_sender(port), form_headers[name], bodies[name])
                    for name, port in ports.items()
                }
                if len(statuses) != 1:
                    raise BenchError(f"the contenders' POST /notes/new redirect with different statuses: {statuses}")
                samples, failed = harness.alternate_http(
                    plan,
                    ports,
                    path="/notes/new",
                    method="POST",
                    headers=form_headers,
                    bodies=bodies,
                    expect_status=statuses.pop(),
                    expect_location=NOTE_PATH_LUA,
                    fail_on_error=True,
                    reverse_every_other=True,
                )
                checked = (
                    "Before timing, two POSTs of each contender redirected to a new note that GET showed, and an "
                    "anonymous POST created none (an anonymous GET of the form went to the log-in page); during "
                    "it, every answer had to be that redirect to /notes/<id> "
                    "(a redirect to the log-in page would have failed the suite). Each timed POST adds a row."
                )
            load_after = harness.load_average()
            notes = http_notes(plan, page, checked)
            extra: dict[str, t.Any] = {
                "failed requests": failed,
                "load average (1 min) before, after": f"{load_before:.2f}, {load_after:.2f}",
            }
            for competitor in HTTP_CONTENDERS[1:]:
                result = harness.compare(
                    name=http_name(page, database, competitor),
                    title=http_title(page, database, competitor),
                    unit="req/s",
                    samples=samples,
                    baseline=names[competitor],
                    subject=names["erlen"],
                    higher_is_better=True,
                    target=HTTP_TARGETS[page, database, competitor],
                    notes=notes,
                    extra=extra,
                )
                results.append(harness.judged(result, [load_before, load_after]))
    return results


def http_notes(plan: HttpPlan, page: str, checked: str) -> list[str]:
    """The notes of an HTTP result of ``page``: how it was run, how each contender is configured, what was checked."""
    request = "GET /me" if page == "me" else "POST /notes/new (the form with its CSRF token)"
    return [
        f"Each contender served by gunicorn, 1 sync worker, on 127.0.0.1, its app the module the instruction counts "
        f"import; {harness.load_generator(plan.http_threads)} sending {request} with the contender's session "
        f"cookie; the three alternate in each round, in reverse order every other round.",
        harness.SHARED_CORES_NOTE,
        "Each logged in once, in a process of its own before its server started, through its own form (the same "
        "database file or schema): Erlen's and Django's sessions are rows in the database, the classic one is the "
        "signed cookie; for the POST, the note form's CSRF token from the same session (and Django's csrftoken "
        "cookie) is sent too.",
        "erlen: PLUGINS db, forms, auth, model_form and ModelForm.save; classic: Flask-SQLAlchemy, Flask-Login, "
        "CSRFProtect with a FlaskForm; django: DEBUG off, CONN_MAX_AGE = 600, startproject's apps and middleware, "
        "database sessions (the default), a ModelForm. SQLite in WAL mode for every contender.",
        checked,
    ]


def run(quick: bool) -> list[Result]:
    """Count every page on SQLite and PostgreSQL, then time ``me`` and ``post`` over HTTP on both.

    A ``--quick`` run answers each page once on SQLite, uncounted, and times the HTTP pages on SQLite
    for a second or so each.
    """
    titles = {"hello_instructions": "Instructions per request, hello"}
    with harness.module_dir("erlen-bench-pages-") as root:
        if quick:
            results = measure(root, ["hello", "me", "post"], ["sqlite"], quick=True)
            return results + measure_http(root, ["me", "post"], ["sqlite"], QUICK_HTTP)
        if harness.valgrind_available():
            results = measure(root, ["hello", "me", "post"], ["sqlite", "postgresql"])
        else:
            results = harness.skipped_all(titles, harness.VALGRIND_MISSING)
        return results + measure_http(root, ["me", "post"], ["sqlite", "postgresql"], FULL_HTTP)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", nargs="+", default=["hello", "me", "post"], choices=["hello", "me", "post"])
    parser.add_argument("--database", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["instructions", "http"],
        choices=["instructions", "http"],
        help="instruction counts (callgrind) and/or requests/s over HTTP (me and post only)",
    )
    parser.add_argument("--quick", action="store_true", help="the HTTP part's short --quick plan")
    args = parser.parse_args(argv)
    results: list[Result] = []
    with harness.module_dir("erlen-bench-pages-") as root:
        if "instructions" in args.parts:
            results.extend(measure(root, args.pages, args.database))
        http_pages = [page for page in args.pages if page != "hello"]
        if "http" in args.parts and http_pages:
            results.extend(measure_http(root, http_pages, args.database, QUICK_HTTP if args.quick else FULL_HTTP))
    print(harness.format_results(SUITE, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
