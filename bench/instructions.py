"""The regression guard's figures: instructions of the example app's start-up and of its main pages, by callgrind.

``python bench/instructions.py`` counts them and compares them with the committed
baseline (``bench/baseline.json``): a figure more than 10% above its baseline is a
regression (exit status 1). ``python bench/instructions.py --write-baseline``
writes the counts as the new baseline, after a change that is meant to cost more,
or that made things cheaper (commit the file with the change, saying why).
``tests/test_instruction_baseline.py`` runs the comparison in CI.

What is counted (the example app, ``examples/notes``, with every shipped
extension, on an SQLite file of its own, production-like: no debug, no testing):

* ``startup``: importing ``notes_app`` and ``create_app()``, once, after Flask,
  Werkzeug, Jinja, Click and SQLAlchemy were imported uninstrumented: what
  Erlen, its plugins and the libraries only they need cost beyond the base every
  Flask + SQLAlchemy app pays. (Counting those too would take minutes under
  callgrind, and no change of Erlen's moves them.)
* ``hello``: ``GET /_bench/hello``, a view returning a string, added to the app.
* ``index_anonymous``: ``GET /notes/`` without a session (a redirect to the log-in page).
* ``login_page``: ``GET /auth/login`` without a session (the form, with its CSRF token).
* ``index``: ``GET /notes/`` logged in (the user read from the database, the notes listed).
* ``note_post``: ``POST /notes/new`` logged in, with a CSRF token: a note written and the admins' mail queued.
* ``admin_list``: ``GET /admin/m/users/`` logged in as a superuser: erlen-admin's list of the users, a page of
  20 rows (their addresses, states and times) out of the 25 made beforehand.

Each request kind is sent a few times uninstrumented to warm up, then
``REQUESTS`` times counted, in-process through the WSGI interface (no
server: framework and app only), with the garbage collector run before each
count, outside it, and paused during it, so that a collection lands in no
count. The log-in and the database are prepared beforehand in a
process of their own (argon2 under valgrind would take minutes); the counted
process runs under ``valgrind --tool=callgrind --instr-atstart=no``, turns
instrumentation on itself (``callgrind_control -i on``) after the base
imports, and ends each count with :func:`harness.mark`. Counts of one build
repeat within a fraction of a percent; only a change of the code moves them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402 - needs BENCH_DIR on sys.path

#: The committed baseline.
BASELINE = BENCH_DIR / "baseline.json"
#: A count more than this fraction above its baseline is a regression.
TOLERANCE = 0.10
#: The figures, in the order they are counted.
MEASURES = ("startup", "hello", "index_anonymous", "login_page", "index", "note_post", "admin_list")
#: Counted requests of each kind (the figure is their mean).
REQUESTS = 10
#: Uninstrumented requests of each kind before counting (templates compiled, caches filled).
WARM_UP = 3
#: What every Flask + SQLAlchemy app imports: imported before counting starts.
BASE_IMPORTS = ("flask", "flask.cli", "werkzeug", "jinja2", "click", "sqlalchemy", "sqlalchemy.orm")

EMAIL = "bench@example.com"
#: Other users made before counting, so that the admin's list of users shows a full page.
OTHER_USERS = 24
SECRET_KEY = "erlen-bench-instructions-secret-key-0123456789"
REFRESH = "python bench/instructions.py --write-baseline"


def app_environ(folder: Path) -> dict[str, str]:
    """The ``ERLEN_*`` variables of the measured app: its database in ``folder``, a fixed key.

    :param folder: the folder of the SQLite file and the instance folder.
    """
    env = harness.clean_env(
        ERLEN_DB_URL=f"sqlite:///{folder / 'notes.sqlite3'}",
        ERLEN_SECRET_KEY=SECRET_KEY,
        PYTHONHASHSEED="0",
        # The preparing process writes the bytecode of every module the counted one imports, here: compiling
        # sources under callgrind would count the compiler (and depend on which .pyc files happen to exist).
        PYTHONPYCACHEPREFIX=str(folder / "pycache"),
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def prepare(folder: Path) -> dict[str, str]:
    """Make the database, a confirmed user and its log-in; return the cookie header and a CSRF token.

    Runs in a process of its own (``--prepare``), with the environment of :func:`app_environ`.
    """
    import notes_app

    from erlen_auth.testing import login_as, make_user
    from erlen_migrate import migrations_of

    app = notes_app.create_app(instance_path=str(folder / "instance"))
    migrations_of(app).upgrade(echo=lambda line: None)
    user = make_user(app, EMAIL, superuser=True)
    for number in range(OTHER_USERS):
        make_user(app, f"reader{number}@example.com")
    client = app.test_client()
    with app.app_context():
        login_as(client, user)
    page = client.get("/notes/new")
    if page.status_code != 200:
        raise harness.BenchError(f"GET /notes/new answered {page.status_code} after the log-in")
    # Read after the form: its CSRF token lives in the session, which the page's answer set anew.
    names = [app.config["SESSION_COOKIE_NAME"], app.config.get("REMEMBER_COOKIE_NAME", "remember_token")]
    cookies = [(name, cookie.value) for name in names for cookie in [client.get_cookie(name)] if cookie is not None]
    return {
        "cookie": "; ".join(f"{name}={value}" for name, value in cookies),
        "csrf": harness.csrf_token_in(page.text, "notes_app"),
    }


def instrumentation_on() -> None:
    """Ask callgrind to instrument this process from now on (it runs with ``--instr-atstart=no``)."""
    command = subprocess.Popen(["callgrind_control", "-i", "on", str(os.getpid())], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # Busy, not blocked in wait(): valgrind takes the command between two slices of running code.
    while command.poll() is None and time.monotonic() < deadline:
        sum(range(1000))
    if command.poll() != 0:
        command.kill()
        raise harness.BenchError("callgrind_control could not turn instrumentation on")


def drive(folder: Path, cookie: str, csrf: str) -> None:
    """The counted process: base imports, then start-up and each request kind, separated by marks."""
    import importlib

    for module in BASE_IMPORTS:
        importlib.import_module(module)
    instrumentation_on()
    gc.collect()
    harness.mark()  # part 1 ends: the instrumentation switch

    import notes_app

    app = notes_app.create_app(instance_path=str(folder / "instance"))
    harness.mark()  # part 2 ends: start-up

    app.add_url_rule("/_bench/hello", "bench_hello", lambda: "Hello, World!")
    logged_in = {"Cookie": cookie}
    form = f"csrf_token={csrf}&title=Counted&body=A+note+written+while+counting".encode()
    form_headers = {**logged_in, "Content-Type": "application/x-www-form-urlencoded"}
    kinds = {
        "hello": ([harness.wsgi_environ("/_bench/hello")], 200),
        "index_anonymous": ([harness.wsgi_environ("/notes/")], 302),
        "login_page": ([harness.wsgi_environ("/auth/login")], 200),
        "index": ([harness.wsgi_environ("/notes/", headers=logged_in)], 200),
        "note_post": ([harness.wsgi_environ("/notes/new", method="POST", headers=form_headers, body=form)], 302),
        "admin_list": ([harness.wsgi_environ("/admin/m/users/", headers=logged_in)], 200),
    }
    calls = {
        name: harness.wsgi_caller(app, environs, expect_status=status) for name, (environs, status) in kinds.items()
    }
    for call in calls.values():
        for _ in range(WARM_UP):
            call()
    count_kinds(calls.values())


def count_kinds(calls: Iterable[Callable[[], object]]) -> None:
    """Make each of ``calls`` :data:`REQUESTS` times, each kind a part of its own, with no garbage collection in it.

    The parts: one before each kind (its collection: not counted), then the kind's; the caller's part ends first.
    The collection before a kind must end before its part begins: counted, a full collection of the app's heap
    (some 3.8 million instructions) made a tenth of every figure, hiding a hello world's regressions behind it.

    :param calls: each kind's call, in the order of :data:`MEASURES` after the start-up.
    """
    for call in calls:
        gc.collect()
        gc.disable()
        harness.mark()  # ends the part before this kind: the collection
        for _ in range(REQUESTS):
            call()
        harness.mark()  # ends this kind's part
        gc.enable()


def count(timeout: float = 900) -> dict[str, int]:
    """Count every figure of :data:`MEASURES`: instructions of the start-up, and per request of each page.

    :param timeout: seconds each of the two processes may take.
    :raises harness.BenchError: a process failed, or callgrind counted other parts than expected.
    """
    script = str(Path(__file__).resolve())
    with tempfile.TemporaryDirectory(prefix="erlen-bench-instructions-") as name:
        folder = Path(name)
        env = app_environ(folder)
        out, _ = harness.run_checked(
            [sys.executable, script, "--prepare", str(folder)], cwd=folder, env=env, timeout=timeout
        )
        prepared = json.loads(out.strip().splitlines()[-1])
        kinds = len(MEASURES) - 1
        parts = harness.instructions_by_part(
            [sys.executable, script, "--drive", str(folder), prepared["cookie"], prepared["csrf"]],
            marks=2 + 2 * kinds,
            cwd=folder,
            env=env,
            timeout=timeout,
            valgrind_options=["--instr-atstart=no"],
        )
    # parts: [the switch's tail, start-up, warm-up, then each kind's, the collection before the next, ..., exit]
    figures = {"startup": parts[1]}
    for index, measure in enumerate(MEASURES[1:]):
        figures[measure] = round(parts[3 + 2 * index] / REQUESTS)
    return figures


def read_baseline(path: Path = BASELINE) -> dict[str, int]:
    """The committed counts, by measure."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return {name: int(value) for name, value in document["instructions"].items()}


def write_baseline(figures: dict[str, int], path: Path = BASELINE) -> None:
    """Write ``figures`` as the baseline, with what they were counted on."""
    import platform

    document = {
        "about": (
            "Instructions counted by callgrind (bench/instructions.py): startup once, the pages per request. "
            f"tests/test_instruction_baseline.py fails when one grows more than {TOLERANCE:.0%}. "
            f"Refresh with: {REFRESH}"
        ),
        "python": platform.python_version(),
        "instructions": figures,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def compare(figures: dict[str, int], baseline: dict[str, int]) -> list[str]:
    """The regressions: each figure more than :data:`TOLERANCE` above its baseline, as a sentence."""
    found = []
    for name in MEASURES:
        if name not in baseline:
            found.append(f"{name}: no baseline; write one with {REFRESH}")
            continue
        limit = baseline[name] * (1 + TOLERANCE)
        if figures[name] > limit:
            found.append(
                f"{name}: {figures[name]:,} instructions, {figures[name] / baseline[name] - 1:+.1%} against the "
                f"baseline {baseline[name]:,} (limit +{TOLERANCE:.0%})"
            )
    return found


def report(figures: dict[str, int], baseline: dict[str, int] | None) -> str:
    """A table of the figures beside the baseline."""
    lines = [f"{'measure':<16} {'instructions':>14} {'baseline':>14} {'change':>8}"]
    for name in MEASURES:
        base = (baseline or {}).get(name)
        change = f"{figures[name] / base - 1:+.1%}" if base else "-"
        lines.append(f"{name:<16} {figures[name]:>14,} {base or 0:>14,} {change:>8}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-baseline", action="store_true", help=f"write the counts to {BASELINE.name}")
    parser.add_argument("--prepare", metavar="FOLDER", help=argparse.SUPPRESS)
    parser.add_argument("--drive", nargs=3, metavar=("FOLDER", "COOKIE", "CSRF"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        print(json.dumps(prepare(Path(args.prepare))))
        return 0
    if args.drive:
        folder, cookie, csrf = args.drive
        drive(Path(folder), cookie, csrf)
        return 0
    if not harness.valgrind_available():
        print(harness.VALGRIND_MISSING)
        return 2
    figures = count()
    baseline = read_baseline() if BASELINE.exists() else None
    print(report(figures, baseline))
    if args.write_baseline:
        write_baseline(figures)
        print(f"written to {BASELINE}")
        return 0
    regressions = compare(figures, baseline or {})
    for line in regressions:
        print("REGRESSION:", line)
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
