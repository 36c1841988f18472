"""The example app's start-up and memory, against a plain Flask app and the classic stack.

* ``cli_instructions``: instructions of ``--help``, counted by callgrind in a
  subprocess each: ``flask --app plain_app --help`` (a hello-world Flask app,
  the baseline), ``flask --app classic_app --help`` (the classic stack's app),
  ``erlen --app six_app --help`` (the six extensions of issue 17: db, forms,
  auth, migrate, mail, admin; the subject of the target) and ``erlen --app
  notes_app --help`` (the example app: every shipped extension, erlen-profiles
  and the app's own plugin). Each runs through ``cli.py``, which hides the
  ``flask.commands`` entry points of the environment (apiflask's ``spec``, in
  the benchmarks' environment, imports SQLAlchemy, marshmallow and pydantic
  into every one of them and made the ratios look three times smaller than in
  an app's own environment). The bytecode of every module is written
  beforehand by an uncounted run of each (``PYTHONPYCACHEPREFIX`` in the
  suite's folder), so the compiler is not counted. Target: erlen (six) /
  flask <= 1.5. A last row counts ``python -c "import sqlalchemy"``: the
  floor of any app whose ``--help`` creates it with SQLAlchemy models (the
  command must create the app: its factory may add commands to ``app.cli``);
  ``erlen`` creates it with the database layer deferred (``erlen.defer_setup``),
  so its ``--help`` imports neither SQLAlchemy nor a model, and ``flask``
  (the classic stack's app) pays that floor.
  Skipped in ``--quick`` runs (minutes under valgrind) and without valgrind.
* ``worker_rss``: resident memory (MiB, ``VmRSS``) of a fresh process after
  creating its app and answering N requests for the log-in page in-process
  (2,000; 200 with ``--quick``): the classic stack (Flask-SQLAlchemy +
  Flask-Login + Flask-WTF's ``CSRFProtect``, a ``FlaskForm`` with a CSRF token)
  against the six extensions' app's ``/auth/login`` (the subject of the
  target) and the example app's. Memory, unlike time, hardly moves with the
  machine's load. Target: erlen (six) / classic <= 1.0. A second classic app,
  "the full classic stack", also sets up what issue 17 counts in the classic
  stack and the three above leave out, one for each of the six extensions:
  Flask-Migrate (``Migrate(app, db)``), Flask-Admin (``Admin`` with a
  ``ModelView`` of the user model) and Flask-Mailman (``Mail(app)``, the mail
  library of ``bench_mail``); it answers the same page. Its ratio is a note,
  the target stays on the three (the stricter baseline). A third, "Flask-Security-Too's
  stack", replaces Flask-Login with what a Flask user adds for the rest of
  erlen-auth's features (registration, recovery, password and email change,
  tracking, two-factor, passkeys), as its docs set it up, beside Flask-Migrate,
  Flask-Admin and Flask-Mailman; it answers its own log-in page; its ratio is
  a note too. Another note compares like for like: Erlen with the classic stack's three batteries only (``db``,
  ``forms``, ``auth``, erlen-auth with every table of its features) against the
  classic stack. Each contender runs once uncounted first, so that no measured
  process compiles its bytecode. ``python bench/memory_by_package.py`` shows
  where the difference lies, package by package.
"""

from __future__ import annotations

import json
import statistics
import sys
import textwrap
from pathlib import Path

import harness
from harness import Result, Target

#: Where ``run.py`` writes this module's results: ``results/startup.json``.
SUITE = "startup"

FLASK = "flask (plain app)"
CLASSIC = "flask-sqlalchemy + flask-login + flask-wtf"
CLASSIC_FULL = "the full classic stack (+ flask-migrate, flask-admin, flask-mailman)"
FST_FULL = "flask-security-too's stack (+ flask-sqlalchemy, flask-migrate, flask-admin, flask-mailman)"
CLASSIC_CLI = "flask: the classic stack's app"
SIX = "erlen: the six extensions"
THREE = "erlen: db, forms, auth (the classic stack's batteries)"
ERLEN = "erlen: the example app"
SQLALCHEMY_FLOOR = "python -c 'import sqlalchemy' (no app)"

CLI_TARGET = Target("<=", 1.5)
RSS_TARGET = Target("<=", 1.0)

PLAIN_APP = """
from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"
"""

#: The six extensions of issue 17's targets, without erlen-api, erlen-profiles and the example app's plugin.
SIX_APP = """
import erlen


def create_app():
    return erlen.create_app(
        __name__,
        {
            "PLUGINS": ["db", "forms", "auth", "migrate", "mail", "admin"],
            "SITE_NAME": "Bench",
            "MAIL_BACKEND": "console",
            "MAIL_DEFAULT_SENDER": "bench@localhost",
        },
    )
"""

#: Erlen with the batteries the classic stack has (a database, forms with CSRF, log-in), like for like.
THREE_APP = SIX_APP.replace('"db", "forms", "auth", "migrate", "mail", "admin"', '"db", "forms", "auth"')

#: The classic stack's app for ``flask --help``: the set-up of ``RSS_SCRIPT``'s classic branch.
CLASSIC_APP = """
import os

from flask import Flask
from flask_login import LoginManager, UserMixin
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

app = Flask(__name__)
app.config.update(
    SECRET_KEY="classic-cli-secret-key-0123456789abcdef", SQLALCHEMY_DATABASE_URI=os.environ["ERLEN_DB_URL"]
)
db = SQLAlchemy(app)
CSRFProtect(app)
login_manager = LoginManager(app)


class User(db.Model, UserMixin):
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(200))


@login_manager.user_loader
def load_user(user_id):
    return db.session.get(User, int(user_id))
"""

#: Run as ``python cli.py flask|erlen ARGS...``: the command without the environment's ``flask.commands`` entry
#: points, which both commands would load (what another installed package adds is no part of either).
CLI_SCRIPT = """
import sys
from importlib import metadata

_entry_points = metadata.entry_points


def entry_points(**params):
    if params.get("group") == "flask.commands":
        return metadata.EntryPoints(())
    return _entry_points(**params)


metadata.entry_points = entry_points
which, sys.argv = sys.argv[1], sys.argv[1:]
if which == "flask":
    from flask.cli import main
else:
    from erlen.cli import main
main()
"""

#: Run as ``python rss.py erlen|six|three|classic|classic-full|fst-full N [CLASSIC_DB_URL]``: prints
#: ``{"rss_mib": ...}`` after N requests for the log-in page.
RSS_SCRIPT = """
import json
import sys

from werkzeug.test import EnvironBuilder


def rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS in /proc/self/status")


which, count = sys.argv[1], int(sys.argv[2])
if which in ("six", "three"):
    app = __import__(f"{which}_app").create_app()
    path = "/auth/login"
elif which == "erlen":
    import notes_app

    app = notes_app.create_app()
    path = "/auth/login"
elif which == "fst-full":
    # What erlen-auth's features take in the classic world: Flask-Security-Too (Flask-Login, Flask-WTF and
    # Flask-Principal inside) with registration, recovery, password and email change, tracking, two-factor by
    # authenticator app and passkeys (WebAuthn), as its docs set it up (fsqla_v3 models, Flask-Mailman),
    # beside Flask-Migrate and Flask-Admin, as the full classic stack has them.
    from flask import Flask
    from flask_admin import Admin
    from flask_admin.contrib.sqla import ModelView
    from flask_mailman import Mail
    from flask_migrate import Migrate
    from flask_security import Security, SQLAlchemyUserDatastore
    from flask_security.models import fsqla_v3 as fsqla
    from flask_sqlalchemy import SQLAlchemy

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="fst-rss-secret-key-0123456789abcdef",
        SECURITY_PASSWORD_SALT="fst-rss-password-salt-0123456789",
        # A file of its own: its user table is not the classic stack's.
        SQLALCHEMY_DATABASE_URI=sys.argv[3].rsplit("/", 1)[0] + "/fst.sqlite3",
        SECURITY_REGISTERABLE=True,
        SECURITY_RECOVERABLE=True,
        SECURITY_CHANGEABLE=True,
        SECURITY_CHANGE_EMAIL=True,
        SECURITY_TRACKABLE=True,
        SECURITY_TWO_FACTOR=True,
        SECURITY_TWO_FACTOR_ENABLED_METHODS=["authenticator"],
        SECURITY_TOTP_SECRETS={"1": "fst-rss-totp-secret-0123456789abcdef"},
        SECURITY_TOTP_ISSUER="fst-rss",
        SECURITY_WEBAUTHN=True,
        MAIL_DEFAULT_SENDER="bench@localhost",
    )
    db = SQLAlchemy(app)
    fsqla.FsModels.set_db_info(db)

    class Role(db.Model, fsqla.FsRoleMixin):
        pass

    class User(db.Model, fsqla.FsUserMixin):
        pass

    class WebAuthn(db.Model, fsqla.FsWebAuthnMixin):
        pass

    Security(app, SQLAlchemyUserDatastore(db, User, Role, WebAuthn))
    Migrate(app, db)
    Admin(app, name="FST").add_view(ModelView(User, db))
    Mail(app)
    with app.app_context():
        db.create_all()
    path = "/login"
else:
    from flask import Flask, render_template_string
    from flask_login import LoginManager, UserMixin
    from flask_sqlalchemy import SQLAlchemy
    from flask_wtf import CSRFProtect, FlaskForm
    from wtforms import PasswordField, StringField

    app = Flask(__name__)
    app.config.update(SECRET_KEY="classic-rss-secret-key-0123456789abcdef", SQLALCHEMY_DATABASE_URI=sys.argv[3])
    db = SQLAlchemy(app)
    CSRFProtect(app)
    login_manager = LoginManager(app)

    class User(db.Model, UserMixin):
        id = db.Column(db.Integer, primary_key=True)
        email = db.Column(db.String(200))

    if which == "classic-full":
        # What the six extensions' migrate, admin and mail stand for in the classic stack.
        from flask_admin import Admin
        from flask_admin.contrib.sqla import ModelView
        from flask_mailman import Mail
        from flask_migrate import Migrate

        Migrate(app, db)
        Admin(app, name="Classic").add_view(ModelView(User, db))
        Mail(app)

    @login_manager.user_loader
    def load_user(user_id):
        return db.session.get(User, int(user_id))

    class LoginForm(FlaskForm):
        email = StringField("Email")
        password = PasswordField("Password")

    @app.route("/login")
    def login():
        return render_template_string(
            "<form method=post>{{ form.csrf_token }}{{ form.email }}{{ form.password }}</form>", form=LoginForm()
        )

    with app.app_context():
        db.create_all()
    path = "/login"

environ = EnvironBuilder(path=path).get_environ()
statuses = []
for _ in range(count):
    body = app(environ.copy(), lambda status, headers, exc_info=None: statuses.append(status) or (lambda data: None))
    for _ in body:
        pass
    getattr(body, "close", lambda: None)()
if not all(status.startswith("200") for status in statuses):
    raise SystemExit(f"a request answered {sorted(set(statuses))}")
print(json.dumps({"rss_mib": round(rss_mib(), 2), "modules": len(sys.modules)}))
"""


def run(quick: bool) -> list[Result]:
    """Count the CLI's instructions (not with ``quick``) and measure a worker's memory."""
    absent = harness.missing(
        [
            ("notes_app", "./examples/notes"),
            ("flask_sqlalchemy", "flask-sqlalchemy"),
            ("flask_wtf", "flask-wtf"),
            ("flask_migrate", "flask-migrate"),
            ("flask_admin", "flask-admin"),
            ("flask_mailman", "flask-mailman"),
            ("flask_security", "flask-security"),
            ("nh3", "nh3"),
        ]
    )
    titles = {
        "cli_instructions": "Instructions of --help (callgrind)",
        "worker_rss": "RSS of a worker after its requests (MiB)",
    }
    if absent:
        return harness.skipped_all(titles, harness.not_installed(absent))
    with harness.module_dir("erlen-bench-startup-") as root:
        (root / "plain_app.py").write_text(PLAIN_APP, encoding="utf-8")
        (root / "rss.py").write_text(RSS_SCRIPT, encoding="utf-8")
        (root / "six_app.py").write_text(SIX_APP, encoding="utf-8")
        (root / "three_app.py").write_text(THREE_APP, encoding="utf-8")
        (root / "classic_app.py").write_text(CLASSIC_APP, encoding="utf-8")
        (root / "cli.py").write_text(CLI_SCRIPT, encoding="utf-8")
        return [bench_cli_instructions(quick, root, titles["cli_instructions"]), bench_rss(quick, root)]


def _hidden_entry_points() -> list[str]:
    """The ``flask.commands`` entry points of this environment, which ``cli.py`` hides."""
    from importlib import metadata

    return sorted(f"{entry.name} ({entry.value})" for entry in metadata.entry_points(group="flask.commands"))


def app_env(root: Path, name: str) -> dict[str, str]:
    """The environment of the suite's processes: an SQLite file ``name`` in ``root``, bytecode kept in ``root``.

    :param root: the suite's folder.
    :param name: the database file's name, without its suffix.
    """
    env = harness.clean_env(
        ERLEN_DB_URL=f"sqlite:///{root / f'{name}.sqlite3'}",
        ERLEN_SECRET_KEY="erlen-bench-startup-secret-key-0123456789",
        PYTHONPYCACHEPREFIX=str(root / "pycache"),
        PYTHONHASHSEED="0",
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def bench_cli_instructions(quick: bool, root: Path, title: str) -> Result:
    if not harness.valgrind_available():
        return harness.skipped(name="cli_instructions", title=title, reason=harness.VALGRIND_MISSING)
    if quick:
        return harness.skipped(name="cli_instructions", title=title, reason="not counted in a --quick run")
    commands = {
        FLASK: [sys.executable, "cli.py", "flask", "--app", "plain_app", "--help"],
        CLASSIC_CLI: [sys.executable, "cli.py", "flask", "--app", "classic_app", "--help"],
        SIX: [sys.executable, "cli.py", "erlen", "--app", "six_app", "--help"],
        ERLEN: [sys.executable, "cli.py", "erlen", "--app", "notes_app", "--help"],
        # The floor of any app whose --help creates it with SQLAlchemy's models: the import alone.
        SQLALCHEMY_FLOOR: [sys.executable, "-c", "import sqlalchemy"],
    }
    counts: dict[str, list[float]] = {}
    for name, argv in commands.items():
        env = app_env(root, "cli")
        harness.run_checked(argv, cwd=root, env=env, timeout=300)  # writes the bytecode
        counts[name] = [float(harness.instructions(argv, cwd=root, env=env, timeout=3600))]
    return harness.compare(
        name="cli_instructions",
        title=title,
        unit="instructions",
        samples=counts,
        baseline=FLASK,
        subject=SIX,
        higher_is_better=False,
        target=CLI_TARGET,
        notes=[
            "each command once under valgrind --tool=callgrind, after an uncounted run that wrote the bytecode",
            "the six extensions: db, forms, auth, migrate, mail, admin; the example app: every shipped extension, "
            "erlen-profiles and its own plugin; the classic stack's app: Flask-SQLAlchemy, Flask-Login, "
            "CSRFProtect; all on SQLite",
            f"erlen (six) / the classic stack's app: {counts[SIX][0] / counts[CLASSIC_CLI][0]:.3f}",
            f"SQLAlchemy's import alone / flask (plain app): {counts[SQLALCHEMY_FLOOR][0] / counts[FLASK][0]:.3f}: "
            "--help creates the app (its factory may add commands to app.cli); the erlen command creates it with "
            "the database layer deferred (erlen.defer_setup), so erlen --help imports neither SQLAlchemy nor a model",
            "flask.commands entry points hidden from every command: "
            + (", ".join(_hidden_entry_points()) or "none installed"),
        ],
    )


def migrate(root: Path, app_module: str, env: dict[str, str]) -> None:
    """Bring the database of ``env`` up to date with the app ``app_module`` makes (``erlen-migrate``).

    :param root: the folder holding the generated apps.
    :param app_module: the module whose ``create_app`` makes the app.
    :param env: the environment, from :func:`app_env`, whose ``ERLEN_DB_URL`` names the database.
    """
    script = f"""
        import {app_module}
        from erlen_migrate import migrations_of

        migrations_of({app_module}.create_app()).upgrade(echo=lambda line: None)
        """
    harness.run_checked([sys.executable, "-c", textwrap.dedent(script)], cwd=root, env=env, timeout=600)


def bench_rss(quick: bool, root: Path) -> Result:
    count = 200 if quick else 2000
    rounds = 1 if quick else 3
    samples: dict[str, list[float]] = {CLASSIC: [], CLASSIC_FULL: [], FST_FULL: [], THREE: [], SIX: [], ERLEN: []}
    modules: dict[str, int] = {}
    envs = {
        CLASSIC: app_env(root, "rss"),
        CLASSIC_FULL: app_env(root, "rss"),
        FST_FULL: app_env(root, "rss"),
        # The six extensions' database, migrated below, holds erlen-auth's tables too.
        THREE: app_env(root, "six"),
        SIX: app_env(root, "six"),
        ERLEN: app_env(root, "rss"),
    }
    for app_module, env in (("notes_app", envs[ERLEN]), ("six_app", envs[SIX])):
        migrate(root, app_module, env)
    whiches = {
        CLASSIC: "classic",
        CLASSIC_FULL: "classic-full",
        FST_FULL: "fst-full",
        THREE: "three",
        SIX: "six",
        ERLEN: "erlen",
    }

    def argv(name: str, requests: int) -> list[str]:
        return [sys.executable, "rss.py", whiches[name], str(requests), f"sqlite:///{root / 'classic.sqlite3'}"]

    # An uncounted run of each first writes its bytecode: a process compiling its modules holds more memory
    # than one loading them, as a deployed worker does.
    for name in samples:
        harness.run_checked(argv(name, 1), cwd=root, env=envs[name], timeout=600)
    for index in range(rounds):
        order = [CLASSIC, CLASSIC_FULL, FST_FULL, THREE, SIX, ERLEN]
        order = order if index % 2 == 0 else order[::-1]
        for name in order:
            out, _ = harness.run_checked(argv(name, count), cwd=root, env=envs[name], timeout=600)
            measured = json.loads(out.strip().splitlines()[-1])
            samples[name].append(float(measured["rss_mib"]))
            modules[name] = int(measured["modules"])
    full_ratio = statistics.median(samples[SIX]) / statistics.median(samples[CLASSIC_FULL])
    fst_ratio = statistics.median(samples[SIX]) / statistics.median(samples[FST_FULL])
    like_ratio = statistics.median(samples[THREE]) / statistics.median(samples[CLASSIC])
    return harness.compare(
        name="worker_rss",
        title=f"RSS of a fresh process after {count:,} requests for the log-in page, in-process (MiB)",
        unit="MiB",
        samples=samples,
        baseline=CLASSIC,
        subject=SIX,
        higher_is_better=False,
        target=RSS_TARGET,
        notes=[
            f"{rounds} round(s), the order reversed every other round, after an uncounted run of each that wrote "
            "its bytecode; VmRSS read at the end of each process",
            "classic: Flask-SQLAlchemy, Flask-Login, CSRFProtect and a FlaskForm on SQLite; erlen (six): db, forms, "
            "auth, migrate, mail, admin; erlen (example app): every shipped extension (erlen-api brings pydantic, "
            "some 10 MiB), erlen-profiles and its plugin; erlen (db, forms, auth): the classic stack's three "
            "batteries, erlen-auth with all its tables (accounts, roles, sessions, tokens, two-factor, passkeys, "
            "OIDC); each on SQLite, migrated",
            f"modules imported: {', '.join(f'{name} {number}' for name, number in modules.items())}",
            f"erlen (db, forms, auth) / the classic stack, like for like: {like_ratio:.3f}",
            f"erlen (six) / the full classic stack: {full_ratio:.3f} "
            "(Flask-Migrate imports Alembic into every worker, Flask-Admin's SQLAlchemy views their forms; "
            "erlen-migrate imports Alembic only for its commands)",
            f"erlen (six) / Flask-Security-Too's stack: {fst_ratio:.3f} (the extension a Flask user adds for what "
            "erlen-auth does beyond Flask-Login: registration, recovery, password and email change, tracking, "
            "two-factor by authenticator app, passkeys; as its docs set it up, fsqla_v3 models, with Flask-Migrate, "
            "Flask-Admin and Flask-Mailman as in the full classic stack; its log-in page is its own template)",
            "every process answers only its log-in page (GET, no session): erlen's is the full page of erlen-auth "
            "(layout, navigation, CSRF field), the classic one a bare form in one template string",
        ],
    )
