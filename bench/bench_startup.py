"""The example app's start-up and memory, against a plain Flask app and the classic stack.

* ``cli_instructions``: instructions of ``--help``, counted by callgrind in a
  subprocess each: ``flask --app plain_app --help`` (a hello-world Flask app)
  against ``erlen --app notes_app --help`` (the example app: every shipped
  extension, erlen-profiles and the app's own plugin). The bytecode of every
  module is written beforehand by an uncounted run of each
  (``PYTHONPYCACHEPREFIX`` in the suite's folder), so the compiler is not
  counted. Target: erlen / flask <= 1.5. Skipped in ``--quick`` runs (minutes
  under valgrind) and without valgrind.
* ``worker_rss``: resident memory (MiB, ``VmRSS``) of a fresh process after
  creating its app and answering N requests for the log-in page in-process
  (2,000; 200 with ``--quick``): the classic stack (Flask-SQLAlchemy +
  Flask-Login + Flask-WTF's ``CSRFProtect``, a ``FlaskForm`` with a CSRF token)
  against the example app's ``/auth/login``. Memory, unlike time, hardly moves
  with the machine's load. Target: erlen / classic <= 1.0.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import harness
from harness import BenchError, Result, Target

#: Where ``run.py`` writes this module's results: ``results/startup.json``.
SUITE = "startup"

FLASK = "flask (plain app)"
CLASSIC = "flask-sqlalchemy + flask-login + flask-wtf"
ERLEN = "erlen: the example app"

CLI_TARGET = Target("<=", 1.5)
RSS_TARGET = Target("<=", 1.0)

PLAIN_APP = """
from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"
"""

#: Run as ``python rss.py erlen|classic N``: prints ``{"rss_mib": ...}`` after N requests for the log-in page.
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
if which == "erlen":
    import notes_app

    app = notes_app.create_app()
    path = "/auth/login"
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
        [("notes_app", "./examples/notes"), ("flask_sqlalchemy", "flask-sqlalchemy"), ("flask_wtf", "flask-wtf")]
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
        return [bench_cli_instructions(quick, root, titles["cli_instructions"]), bench_rss(quick, root)]


def _env(root: Path, name: str) -> dict[str, str]:
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
    flask_cli = harness.venv_executable("flask")
    erlen_cli = harness.venv_executable("erlen")
    if flask_cli is None or erlen_cli is None:
        raise BenchError("the flask and erlen commands are not beside this Python")
    commands = {
        FLASK: [str(flask_cli), "--app", "plain_app", "--help"],
        ERLEN: [str(erlen_cli), "--app", "notes_app", "--help"],
    }
    counts: dict[str, list[float]] = {}
    for name, argv in commands.items():
        env = _env(root, "cli")
        harness.run_checked(argv, cwd=root, env=env, timeout=300)  # writes the bytecode
        counts[name] = [float(harness.instructions(argv, cwd=root, env=env, timeout=3600))]
    return harness.compare(
        name="cli_instructions",
        title=title,
        unit="instructions",
        samples=counts,
        baseline=FLASK,
        subject=ERLEN,
        higher_is_better=False,
        target=CLI_TARGET,
        notes=[
            "each command once under valgrind --tool=callgrind, after an uncounted run that wrote the bytecode",
            "the example app: every shipped extension, erlen-profiles and its own plugin, on SQLite",
        ],
    )


def bench_rss(quick: bool, root: Path) -> Result:
    count = 200 if quick else 2000
    rounds = 1 if quick else 3
    samples: dict[str, list[float]] = {CLASSIC: [], ERLEN: []}
    modules: dict[str, int] = {}
    env = _env(root, "rss")
    harness.run_checked(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import notes_app
                from erlen_migrate import migrations_of

                migrations_of(notes_app.create_app()).upgrade(echo=lambda line: None)
                """
            ),
        ],
        cwd=root,
        env=env,
        timeout=600,
    )
    for index in range(rounds):
        order = [CLASSIC, ERLEN] if index % 2 == 0 else [ERLEN, CLASSIC]
        for name in order:
            which = "erlen" if name == ERLEN else "classic"
            argv = [sys.executable, "rss.py", which, str(count), f"sqlite:///{root / 'classic.sqlite3'}"]
            out, _ = harness.run_checked(argv, cwd=root, env=env, timeout=600)
            measured = json.loads(out.strip().splitlines()[-1])
            samples[name].append(float(measured["rss_mib"]))
            modules[name] = int(measured["modules"])
    return harness.compare(
        name="worker_rss",
        title=f"RSS of a fresh process after {count:,} requests for the log-in page, in-process (MiB)",
        unit="MiB",
        samples=samples,
        baseline=CLASSIC,
        subject=ERLEN,
        higher_is_better=False,
        target=RSS_TARGET,
        notes=[
            f"{rounds} round(s), the order reversed every other round; VmRSS read at the end of each process",
            "classic: Flask-SQLAlchemy, Flask-Login, CSRFProtect and a FlaskForm on SQLite; "
            "erlen: the example app (every shipped extension) on SQLite, migrated",
            f"modules imported: {', '.join(f'{name} {number}' for name, number in modules.items())}",
        ],
    )
