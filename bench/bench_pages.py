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

Each app is run in a subprocess under valgrind's callgrind
(:func:`harness.instructions_by_part`): it creates its tables and user, logs
in through its own form, sends each request a few times to warm up, then
``N`` times between two marks; the count between the marks divided by ``N``
is one request's cost, the database server's own work excluded (it runs in
another process). Counts do not move with the machine's load.

Run alone: ``python bench/bench_pages.py [--database sqlite postgresql] [--pages hello me post]``.
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
from sqlalchemy import String, Text
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
        db.create_all()
        db.session.add(User(email=EMAIL, password_hash=passwords.hash(PASSWORD)))
        db.session.commit()
    page = client.get("/login")
    token = harness.csrf_token_in(page.data, "classic")
    answer = client.post("/login", data={{"email": EMAIL, "password": PASSWORD, "csrf_token": token}}, headers=HEADERS)
    assert answer.status_code in (302, 303), (answer.status_code, answer.data[:500])
    return {{}}
"""

#: Each contender's app source, by page kind: hello, or the logged-in pages (me, post).
APPS = {
    ("hello", "erlen"): ERLEN_HELLO,
    ("hello", "competitor"): FLASK_HELLO,
    ("pages", "erlen"): ERLEN_PAGES,
    ("pages", "competitor"): CLASSIC_PAGES,
}

NAMES = {
    "hello": {"erlen": f"erlen + {', '.join(SIX)}", "competitor": "flask with a SECRET_KEY"},
    "me": {"erlen": "erlen + db, forms, auth", "competitor": "flask-sqlalchemy + flask-login + flask-wtf"},
    "post": {"erlen": "erlen + db, forms, auth", "competitor": "flask-sqlalchemy + flask-login + flask-wtf"},
}

#: The script callgrind counts: argv is ``module page count``. It sets up, warms up, marks, requests, marks.
CALLS_SCRIPT = """
import sys

sys.path[:0] = [{root!r}, {bench!r}]
import harness

module_name, page, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
module = __import__(module_name)
app = module.app
client = app.test_client()
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
    token = harness.csrf_token_in(form.data, module_name)
    cookie = "; ".join(f"{{c.key}}={{c.value}}" for c in client._cookies.values())
    headers["Cookie"] = cookie
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    import urllib.parse

    body = urllib.parse.urlencode({{"csrf_token": token, "title": "A note", "body": "Its text."}}).encode()
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


def count_page(root: Path, module: str, page: str, count: int = COUNT) -> float:
    """Instructions per request of ``page`` of the generated app ``module``."""
    script = root / "pages_calls.py"
    if not script.exists():
        script.write_text(
            CALLS_SCRIPT.format(root=str(root), bench=str(Path(__file__).resolve().parent), warm_up=WARM_UP)
        )
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


def measure(root: Path, pages: Sequence[str], databases: Sequence[str]) -> list[Result]:
    """Count each page on each database, both contenders, and compare."""
    if not (root / "templates").exists():
        harness.write_templates(
            root, {"me.html": ME_TEMPLATE, "new.html": NEW_TEMPLATE, "classic_login.html": CLASSIC_LOGIN_TEMPLATE}
        )
    results: list[Result] = []
    for page in pages:
        for database in ["sqlite"] if page == "hello" else databases:
            name = f"{page}_instructions" if page == "hello" else f"{page}_{database}_instructions"
            title = f"Instructions per request, {page} ({database}), callgrind"
            samples: dict[str, list[float]] = {}
            try:
                with database_urls(root, page, database) as urls:
                    for contender in ("competitor", "erlen"):
                        kind = "hello" if page == "hello" else "pages"
                        module = f"pages_{page}_{database}_{contender}"
                        write_app(root, module, APPS[kind, contender], urls[contender])
                        samples[NAMES[page][contender]] = [count_page(root, module, page)]
            except BenchError as exc:
                if "not reachable" not in str(exc):
                    raise
                results.append(harness.skipped(name=name, title=title, reason=str(exc)))
                continue
            results.append(
                harness.compare(
                    name=name,
                    title=title,
                    unit="instructions/request",
                    samples=samples,
                    baseline=NAMES[page]["competitor"],
                    subject=NAMES[page]["erlen"],
                    higher_is_better=False,
                    target=HELLO_TARGET if page == "hello" else PAGE_TARGET,
                    notes=[
                        f"callgrind, in-process WSGI calls: {WARM_UP} warm-up requests, then {COUNT} counted "
                        "(harness.instructions_by_part); the database server's work is not counted.",
                    ],
                )
            )
    return results


@contextlib.contextmanager
def database_urls(root: Path, page: str, database: str) -> Iterator[dict[str, str]]:
    """Each contender's database URL for ``page`` on ``database``: an SQLite file each, or a PostgreSQL schema each."""
    contenders = ("competitor", "erlen")
    if database == "sqlite":
        yield {contender: f"sqlite:///{root / f'{page}_{contender}.sqlite3'}" for contender in contenders}
        return
    with (
        harness.postgres_schema_url(f"erlen_bench_pages_{contenders[0]}") as first,
        harness.postgres_schema_url(f"erlen_bench_pages_{contenders[1]}") as second,
    ):
        yield dict(zip(contenders, (first, second), strict=True))


def run(quick: bool) -> list[Result]:
    """Count every page on SQLite and PostgreSQL; skipped in a ``--quick`` run (minutes under valgrind)."""
    titles = {"hello_instructions": "Instructions per request, hello"}
    if not harness.valgrind_available():
        return harness.skipped_all(titles, harness.VALGRIND_MISSING)
    if quick:
        return harness.skipped_all(titles, "not counted in a --quick run")
    with harness.module_dir("erlen-bench-pages-") as root:
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
