"""Instructions per request of the pages issue 17 names, Erlen against its competitor, counted by callgrind.

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

Run alone: ``python bench/bench_pages.py [--database sqlite postgresql] [--pages hello me post]``. A
``--quick`` run of ``run.py`` answers each page of each app once on SQLite without counting, so the apps
cannot rot.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

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
from urllib.parse import parse_qs, urlsplit

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
        "USER": parts.username or "",
        "PASSWORD": parts.password or "",
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
call = harness.wsgi_caller(app, [environ], expect_status=expect)
harness.start_instrumentation()
for _ in range({warm_up}):
    call()
harness.mark()
for _ in range(count):
    call()
harness.mark()
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
    if not (root / "templates").exists():
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
    results: list[Result] = []
    for page in pages:
        kind = "hello" if page == "hello" else "pages"
        contenders = list(NAMES[page])
        for database in ["sqlite"] if page == "hello" else databases:
            name = f"{page}_instructions" if page == "hello" else f"{page}_{database}_instructions"
            title = f"Instructions per request, {page} ({database}), callgrind"
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


def run(quick: bool) -> list[Result]:
    """Count every page on SQLite and PostgreSQL; a ``--quick`` run answers each page once on SQLite, uncounted."""
    titles = {"hello_instructions": "Instructions per request, hello"}
    if not quick and not harness.valgrind_available():
        return harness.skipped_all(titles, harness.VALGRIND_MISSING)
    with harness.module_dir("erlen-bench-pages-") as root:
        if quick:
            return measure(root, ["hello", "me", "post"], ["sqlite"], quick=True)
        return measure(root, ["hello", "me", "post"], ["sqlite", "postgresql"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", nargs="+", default=["hello", "me", "post"], choices=["hello", "me", "post"])
    parser.add_argument("--database", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv)
    with harness.module_dir("erlen-bench-pages-") as root:
        results = measure(root, args.pages, args.database)
    print(harness.format_results(SUITE, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
