"""Erlen's core against plain Flask.

* Requests/s of a hello-world route: a plain Flask app against an Erlen app
  with the core and 20 enabled no-op plugins, in-process (WSGI called
  directly) and over HTTP (gunicorn, 1 sync worker, on 127.0.0.1).
  Target: ratio Erlen / Flask >= 0.97.
* Startup: ``erlen.create_app`` with 100 synthetic plugins (some requiring
  others) against ``flask.Flask(__name__)``, with the per-plugin cost; and the
  wall time of ``erlen --help`` against ``flask --help``, each loading an app.
  Target: ``erlen --help`` <= 1.3 x ``flask --help``.

The apps and plugins are generated as real files in a temporary folder, so the
gunicorn and CLI subprocesses import exactly what the in-process runs import.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import flask
import harness
from harness import BenchError, Result, Target

import erlen

#: Where ``run.py`` writes this module's results: ``results/core.json``.
SUITE = "core"

NOOP_PLUGINS = 20
STARTUP_PLUGINS = 100
HELLO = b"Hello, World!"

REQUEST_TARGET = Target(">=", 0.97)
CLI_TARGET = Target("<=", 1.3)

NOOP_PACKAGE = "erlen_bench_noop"
STARTUP_PACKAGE = "erlen_bench_startup"


@dataclass(frozen=True)
class Plan(harness.RequestPlan):
    """How long each measurement runs; every figure is an upper bound (the request figures: ``RequestPlan``)."""

    startup_rounds: int
    startup_round_seconds: float
    startup_max_calls: int
    cli_runs: int
    cli_timeout: float


# Many short rounds rather than a few long ones: the two samples of a round are taken close together, so a
# burst of other work on the machine hits both alike and the median of rounds shrugs it off.
FULL = Plan(
    wsgi_rounds=60,
    wsgi_round_seconds=0.1,
    http_rounds=50,
    http_round_seconds=0.5,
    http_threads=2,
    startup_rounds=20,
    startup_round_seconds=0.2,
    startup_max_calls=200,
    cli_runs=15,
    cli_timeout=60.0,
)
QUICK = Plan(
    **harness.QUICK_REQUESTS,
    startup_rounds=3,
    startup_round_seconds=0.1,
    startup_max_calls=20,
    cli_runs=3,
    cli_timeout=60.0,
)


def run(quick: bool) -> list[Result]:
    """Run every core benchmark; ``quick`` makes each a short smoke run."""
    plan = QUICK if quick else FULL
    with harness.module_dir("erlen-bench-core-") as root:
        noop_specs = write_plugins(root, NOOP_PACKAGE, NOOP_PLUGINS)
        startup_specs = write_plugins(root, STARTUP_PACKAGE, STARTUP_PLUGINS)
        write_apps(root, noop_specs)
        harness.compile_tree(root)
        results = [
            bench_wsgi(plan),
            bench_http(plan, root),
            bench_create_app(plan, startup_specs),
            bench_cli(plan, root),
        ]
    return harness.with_plan(results, plan)


# --------------------------------------------------------------------------- generated code


def plugin_name(package: str, index: int) -> str:
    return f"{package.removeprefix('erlen_bench_')}_{index:03d}"


def write_plugins(root: Path, package: str, count: int) -> list[str]:
    """Write ``count`` no-op plugins into ``root/package`` and return PLUGINS for them.

    Every third plugin requires the two before it, every tenth integrates with
    the one five before it; PLUGINS lists them in reverse, so every
    requirement comes after the plugin needing it and load ordering has work
    to do. Each plugin implements only startup hooks: one setting,
    ``erlen_init_app`` doing nothing and ``erlen_template_globals`` returning
    nothing.
    """
    specs = []
    for index in range(count):
        name = plugin_name(package, index)
        requires = [plugin_name(package, index - 1), plugin_name(package, index - 2)] if index % 3 == 2 else []
        integrates = [plugin_name(package, index - 5)] if index % 10 == 9 else []
        module = f"{package}.plugin_{index:03d}"
        harness.write_module(
            root,
            module,
            f'''
            """No-op plugin {index} for Erlen's benchmarks."""

            import erlen

            PLUGIN = erlen.Plugin(
                name={name!r},
                requires={requires!r},
                integrates_with={integrates!r},
                description="Does nothing; for benchmarks.",
            )


            @erlen.hookimpl
            def erlen_settings():
                return [erlen.Setting("LEVEL", int, default={index}, help="Unused.")]


            @erlen.hookimpl
            def erlen_init_app(app):
                pass


            @erlen.hookimpl
            def erlen_template_globals():
                return {{}}
            ''',
        )
        specs.append(module)
    return list(reversed(specs))


def write_apps(root: Path, noop_specs: Sequence[str]) -> None:
    """The hello-world apps: ``flask_app``, ``erlen_app`` (core only) and ``erlen_noop_app`` (20 plugins)."""
    route = f'\n\n@app.route("/")\ndef hello():\n    return {HELLO.decode()!r}\n'
    harness.write_module(root, "flask_app", "from flask import Flask\n\napp = Flask(__name__)\n" + route)
    harness.write_module(root, "erlen_app", "import erlen\n\napp = erlen.create_app(__name__)\n" + route)
    harness.write_module(
        root,
        "erlen_noop_app",
        f"import erlen\n\napp = erlen.create_app(__name__, {{'PLUGINS': {list(noop_specs)!r}}}, environ={{}})\n"
        + route,
    )


# --------------------------------------------------------------------------- requests/s


def check_hello(app: flask.Flask) -> None:
    """Fail unless ``GET /`` answers 200 with the hello-world body."""
    response = app.test_client().get("/")
    if response.status_code != 200 or response.data != HELLO:
        raise BenchError(f"{app.name}: GET / answered {response.status} {response.data[:200]!r}")


def bench_wsgi(plan: Plan) -> Result:
    flask_app = harness.import_app("flask_app")
    erlen_app = harness.import_app("erlen_noop_app")
    registry = erlen.plugins_of(erlen_app)
    if len(registry) != NOOP_PLUGINS + 1:
        raise BenchError(f"expected {NOOP_PLUGINS + 1} plugins on erlen_noop_app, got {registry.names()}")
    for app in (flask_app, erlen_app):
        check_hello(app)
    environ = harness.wsgi_environ("/")
    # check_hello vetted both answers before timing; the hello-world loop takes no per-request status check, so
    # these figures stay comparable with earlier runs (the route is fixed and cannot start failing mid-run).
    callers = {
        "flask": harness.wsgi_caller(flask_app, [environ], require_200=False),
        f"erlen + {NOOP_PLUGINS} no-op plugins": harness.wsgi_caller(erlen_app, [environ], require_200=False),
    }
    load_before = harness.load_average()
    samples = harness.alternate_rates(plan, callers, max_calls=500_000)
    result = harness.compare_rates(
        name="requests_wsgi",
        title=f"Hello-world requests/s, in-process WSGI (Flask vs Erlen + {NOOP_PLUGINS} no-op plugins)",
        samples=samples,
        baseline="flask",
        subject=f"erlen + {NOOP_PLUGINS} no-op plugins",
        target=REQUEST_TARGET,
        notes=["app(environ, start_response) called directly with a prepared environ: framework overhead only."],
    )
    return harness.judged(result, [load_before, harness.load_average()])


def bench_http(plan: Plan, root: Path) -> Result:
    title = f"Hello-world requests/s over HTTP, gunicorn 1 sync worker (Flask vs Erlen + {NOOP_PLUGINS} no-op plugins)"
    if not harness.gunicorn_available():
        return harness.skipped(name="requests_http", title=title, reason=harness.GUNICORN_MISSING)
    if not harness.wrk_available():
        return harness.skipped(name="requests_http", title=title, reason=harness.WRK_MISSING)
    subject = f"erlen + {NOOP_PLUGINS} no-op plugins"
    servers = {"flask": "flask_app:app", subject: "erlen_noop_app:app"}
    with harness.gunicorn_servers(servers, chdir=root, expect_body=HELLO) as ports:
        load_before = harness.load_average()
        samples, failed = harness.alternate_http(plan, ports)
        load_after = harness.load_average()
    result = harness.compare_rates(
        name="requests_http",
        title=title,
        samples=samples,
        baseline="flask",
        subject=subject,
        target=REQUEST_TARGET,
        notes=[
            f"{harness.load_generator(plan.http_threads)}; the sync worker closes the "
            "connection after each response, so every request includes a TCP connect.",
            harness.SHARED_CORES_NOTE,
        ],
        extra={"failed requests": failed},
    )
    return harness.judged(result, [load_before, load_after])


# --------------------------------------------------------------------------- startup


def forget_package(package: str) -> None:
    """Drop ``package`` and its modules from ``sys.modules``, so the next create_app imports them again."""
    for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[module]
    importlib.invalidate_caches()


def check_order(app: flask.Flask, count: int) -> None:
    """Fail unless all plugins loaded and every requirement loads before the plugin needing it."""
    registry = erlen.plugins_of(app)
    if len(registry) != count + 1:
        raise BenchError(f"expected {count + 1} plugins, got {len(registry)}")
    position = {name: index for index, name in enumerate(registry.names())}
    for plugin in registry:
        for needed in (*plugin.requires, *plugin.integrates_with):
            if position[needed] > position[plugin.name]:
                raise BenchError(f"plugin {plugin.name!r} loads before {needed!r}, which it needs")


def bench_create_app(plan: Plan, specs: Sequence[str]) -> Result:
    import_name = __name__
    config = {"PLUGINS": list(specs)}
    check_order(erlen.create_app(import_name, config, environ={}), len(specs))

    def measure(call: Callable[[], object], setup: Callable[[], object] | None = None) -> Callable[[], float]:
        return lambda: harness.mean_ms(
            call, seconds=plan.startup_round_seconds, max_calls=plan.startup_max_calls, setup=setup
        )

    subject = f"erlen.create_app, {len(specs)} plugins"
    contenders = {
        "flask.Flask(__name__)": measure(lambda: flask.Flask(import_name)),
        "erlen.create_app, core only": measure(lambda: erlen.create_app(import_name, {}, environ={})),
        subject: measure(lambda: erlen.create_app(import_name, config, environ={})),
        f"{subject}, imported afresh": measure(
            lambda: erlen.create_app(import_name, config, environ={}), setup=lambda: forget_package(STARTUP_PACKAGE)
        ),
    }
    samples = harness.alternate(
        contenders,
        rounds=plan.startup_rounds,
        max_seconds=plan.startup_rounds * plan.startup_round_seconds * len(contenders) * 2,
    )
    result = harness.compare(
        name="startup_create_app",
        title=f"App creation time, in-process (flask.Flask vs erlen.create_app with {len(specs)} plugins)",
        unit="ms",
        samples=samples,
        baseline="flask.Flask(__name__)",
        subject=subject,
        higher_is_better=False,
        notes=[
            "Plugins are modules with one setting, erlen_init_app and erlen_template_globals; a third of them "
            "require two others and PLUGINS lists them in reverse, so the load order must be resolved.",
            "'imported afresh' removes the plugin modules from sys.modules before each call (loading from "
            "__pycache__, as a restarted process does).",
        ],
    )
    medians = {c["name"]: c["median"] for c in result["contenders"]}
    core_only = medians["erlen.create_app, core only"]
    result["extra"] = {
        "per-plugin cost, ms": (medians[subject] - core_only) / len(specs),
        "per-plugin cost imported afresh, ms": (medians[f"{subject}, imported afresh"] - core_only) / len(specs),
        "core overhead over flask.Flask, ms": core_only - medians["flask.Flask(__name__)"],
    }
    return result


def bench_cli(plan: Plan, root: Path) -> Result:
    title = "CLI start: wall time of `erlen --help` vs `flask --help`, each loading a hello-world app"
    erlen_exe, flask_exe = harness.venv_executable("erlen"), harness.venv_executable("flask")
    if erlen_exe is None or flask_exe is None:
        return harness.skipped(
            name="startup_cli", title=title, reason=f"no erlen/flask executable next to {sys.executable}"
        )
    env = harness.clean_env()
    subject = "erlen --app erlen_app --help"
    commands = {
        "flask --app flask_app --help": [str(flask_exe), "--app", "flask_app", "--help"],
        subject: [str(erlen_exe), "--app", "erlen_app", "--help"],
        f"erlen --app erlen_noop_app --help ({NOOP_PLUGINS} plugins)": [
            str(erlen_exe),
            "--app",
            "erlen_noop_app",
            "--help",
        ],
    }
    for name, argv in commands.items():
        out, err = harness.run_checked(argv, cwd=root, env=env, timeout=plan.cli_timeout)
        # Flask's CLI prints "Error: Could not import ..." and still exits 0 when the app does not load.
        if "Error:" in err or "Usage:" not in out:
            raise BenchError(f"{name} did not load its app:\n{out}\n{err}")
        if argv[0] == str(erlen_exe) and "plugins" not in out:
            raise BenchError(f"{name}: the core plugin's commands are missing, so the app was not loaded:\n{out}")
    samples = harness.alternate(
        {
            name: functools.partial(harness.wall_ms, argv, cwd=root, env=env, timeout=plan.cli_timeout)
            for name, argv in commands.items()
        },
        rounds=plan.cli_runs,
        max_seconds=plan.cli_runs * len(commands) * 5.0,
    )
    return harness.compare(
        name="startup_cli",
        title=title,
        unit="ms",
        samples=samples,
        baseline="flask --app flask_app --help",
        subject=subject,
        higher_is_better=False,
        target=CLI_TARGET,
        notes=[
            "Executables of the running interpreter's environment, run as subprocesses in one temporary folder; "
            "flask_app is a plain Flask hello world, erlen_app an Erlen one (core only).",
        ],
    )
