"""What a worker does not import: the shipped plugins' command-line code, loaded only by the ``erlen`` command.

Every gunicorn worker creates the app, and so calls every plugin's
``erlen_cli_commands``; the plugins return :class:`erlen.LazyCommand` stand-ins,
whose modules are imported only when a command runs or shows its own help.
These tests check it in a fresh interpreter (what a worker has imported after
creating the app and answering a request), that ``erlen --help`` lists the
commands with the same one-line help without importing them, and that the
commands still work on first use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import typing as t
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from flask import Flask

import erlen

#: Every shipped plugin that adds commands, and those they require.
PLUGINS = ["db", "forms", "auth", "migrate", "mail", "admin", "api", "tasks"]

#: The modules that define the shipped commands: none may be imported by creating the app.
CLI_MODULES = [
    "erlen.cli",
    "erlen.cli.check",
    "erlen.cli.plugins",
    "erlen_api.cli",
    "erlen_auth.cli",
    "erlen_db.cli",
    "erlen_mail.cli",
    "erlen_migrate.cli",
    "erlen_tasks.cli",
    "alembic",
]

#: Imported on first use by the pages that need them, not by a worker that answered the log-in page: the
#: standard library's email policies (by the first message built), gzip (by the first password set) and
#: smtplib (by the first SMTP connection).
FIRST_USE_MODULES = ["email.policy", "gzip", "smtplib"]

#: Imported by the commands, ``erlen check`` and the readiness check that use them, never by serving a page.
CHECK_MODULES = ["erlen_migrate.migrations", "erlen.checks", "erlen_tasks.checks"]

#: What the app's configuration never runs, in a worker of its whole life (issue 17): gunicorn's logging
#: configuration (called by gunicorn's configuration file, not the app), the readiness checks and metrics of
#: erlen-ops (not enabled; test_lazy_startup_ops checks them with it), OpenID Connect without
#: ``AUTH_OIDC_PROVIDERS``, and every mail backend but ``MAIL_BACKEND``'s (``memory`` here).
UNUSED_FEATURE_MODULES = [
    "erlen.gunicorn_logs",
    "erlen_api.health",
    "erlen_auth.health",
    "erlen_db.health",
    "erlen_mail.health",
    "erlen_migrate.health",
    "erlen_auth.oidc",
    "erlen_mail.backends.smtp",
    "erlen_mail.backends.console",
    "erlen_mail.backends.file",
    "erlen_mail.backends.null",
]

#: What a worker that answered only the log-in page has not imported: the views of other pages (the app
#: registers their rules, so url_for works from the first request, and each view imports its module when first
#: called), and what only pages that paginate, search, upload, send mail or count failed log-ins in Redis use.
DEFERRED_VIEW_MODULES = [
    "erlen_admin.routes",
    "erlen_admin.object_routes",
    "erlen_admin.listing",
    "erlen_forms.model_forms",
    "erlen_forms.uploads",
    "erlen_db.pagination",
    "erlen_db.search",
    "erlen_auth.oidc_views",
    "erlen_auth.session_views",
    "erlen_auth.access_token_views",
    "erlen_auth.passkey_views",
    "erlen_auth.data_rights_views",
    "erlen_auth.data_rights",
    "erlen_auth.throttling_redis",
    "erlen_auth.totp",
    "erlen_auth.totp_views",
    "erlen_mail.bulk.sending",
    "erlen_mail.delivery",
    "erlen_mail.outbox.queueing",
]

#: An endpoint of each deferred view module and the values to build its URL with.
DEFERRED_ENDPOINTS = {
    "admin.index": {},
    "admin.list": {"slug": "auth_user"},
    "admin.object_action": {"slug": "auth_user", "ident": 1, "name": "x"},
    "auth.sessions": {},
    "auth.new_access_token": {},
    "auth.passkey_new": {},
    "auth.passkey_login_options": {},
    "auth.delete_account": {},
    "auth.cancel_deletion": {"token": "t"},
    "auth.two_factor_setup": {},
}


def _app_config(plugins: list[str], **extra: t.Any) -> dict[str, t.Any]:
    """The configuration of every app these tests create, in this process or in a fresh interpreter.

    :param plugins: the plugins to enable.
    :param extra: settings to add or replace (the mail backend, a bad ``DB_URL``).
    """
    return {"PLUGINS": plugins, "MAIL_BACKEND": "memory", "MAIL_DEFAULT_SENDER": "app@localhost", **extra}


#: Put in the scripts that compare a served app with one the erlen command made: ``command_made(make_app)``
#: creates the app as the ``erlen`` command does, its deferrable set-up pending until ``erlen.finish_setup``.
COMMAND_MADE = """
import erlen


def command_made(make_app):
    with erlen.deferring_setup():
        return make_app()
"""

APP_MODULE = f"""
import erlen


def create_app():
    return erlen.create_app("lazyworker", {_app_config(PLUGINS)!r})
"""


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    (tmp_path / "lazy_worker_app.py").write_text(APP_MODULE, encoding="utf-8")
    return tmp_path


def _env(folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ERLEN_", "FLASK_"))}
    env.update(
        ERLEN_DB_URL=f"sqlite:///{folder / 'lazy.sqlite3'}",
        ERLEN_SECRET_KEY="lazy-startup-secret-key-0123456789abcdef",
        PYTHONPATH=os.pathsep.join([str(folder), env.get("PYTHONPATH", "")]),
    )
    return env


def _python(
    folder: Path, script: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter in ``folder``, with the apps' environment (or ``env``).

    :param folder: the working directory, on the module path (where the app modules are).
    :param script: Python source, dedented here.
    :param args: the script's ``sys.argv[1:]``.
    :param env: the whole environment; by default :func:`_env` of ``folder``.
    """
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        cwd=folder,
        env=env or _env(folder),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _run(folder: Path, script: str, env: dict[str, str] | None = None) -> str:
    """The output of ``script`` run by :func:`_python`, which must succeed."""
    result = _python(folder, script, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


#: The :func:`served_app` fixture: ``served_app(name, plugins, **settings)`` returns the app.
ServedApp = t.Callable[..., Flask]


@pytest.fixture
def served_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServedApp]:
    """Creates apps in this process as a worker does (set up at once), on an SQLite file of the test's; closes them.

    Called with the app's name, its plugins and settings of :func:`_app_config`; a ``DB_URL`` given replaces the
    test's file (the environment, read after the settings given, would win).
    """
    made: list[Flask] = []

    def create(name: str, plugins: list[str], **extra: t.Any) -> Flask:
        if "DB_URL" in extra:
            monkeypatch.delenv("ERLEN_DB_URL", raising=False)
        else:
            monkeypatch.setenv("ERLEN_DB_URL", f"sqlite:///{tmp_path / f'{name}.sqlite3'}")
        app = erlen.create_app(name, _app_config(plugins, **extra))
        made.append(app)
        return app

    yield create
    for app in made:
        erlen.close_app(app)


def test_a_worker_imports_no_command_line_code(app_folder: Path) -> None:
    out = _run(
        app_folder,
        """
        import json, sys
        import lazy_worker_app

        app = lazy_worker_app.create_app()
        status = app.test_client().get("/auth/login").status_code
        print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
        """,
    )
    seen = json.loads(out.splitlines()[-1])
    assert seen["status"] == 200
    assert [name for name in CLI_MODULES if name in seen["modules"]] == []
    assert [name for name in FIRST_USE_MODULES if name in seen["modules"]] == []
    assert [name for name in CHECK_MODULES if name in seen["modules"]] == []
    assert [name for name in UNUSED_FEATURE_MODULES if name in seen["modules"]] == []
    assert "erlen_mail.backends.memory" in seen["modules"]  # the one in use, imported when the app was created


def test_a_worker_imports_the_views_of_other_pages_on_their_first_request(app_folder: Path) -> None:
    out = _run(
        app_folder,
        f"""
        import json, sys
        import lazy_worker_app
        from flask import url_for

        app = lazy_worker_app.create_app()
        client = app.test_client()
        urls = {{}}

        @app.get("/_urls")
        def build_urls():
            endpoints = {DEFERRED_ENDPOINTS!r}
            urls.update({{endpoint: url_for(endpoint, **values) for endpoint, values in endpoints.items()}})
            return "built"

        first = [client.get("/_urls").status_code, client.get("/auth/login").status_code]
        before = sorted(sys.modules)
        # Anonymous: each view (its module imported now) sends the visitor to log in, as before.
        pages = {{path: client.get(path) for path in ["/admin/", "/admin/m/auth_user/", "/auth/sessions",
                                                      "/auth/tokens/new", "/auth/passkeys/new", "/auth/delete",
                                                      "/auth/two-factor/setup"]}}
        statuses = {{path: [page.status_code, page.headers.get("Location", "")] for path, page in pages.items()}}
        print(json.dumps({{"first": first, "urls": urls, "before": before, "statuses": statuses,
                          "after": sorted(sys.modules)}}))
        """,
    )
    seen = json.loads(out.splitlines()[-1])
    assert seen["first"] == [200, 200]
    assert seen["urls"] == {
        "admin.index": "/admin/",
        "admin.list": "/admin/m/auth_user/",
        "admin.object_action": "/admin/m/auth_user/1/do/x",
        "auth.sessions": "/auth/sessions",
        "auth.new_access_token": "/auth/tokens/new",
        "auth.passkey_new": "/auth/passkeys/new",
        "auth.passkey_login_options": "/auth/passkeys/login/options",
        "auth.delete_account": "/auth/delete",
        "auth.cancel_deletion": "/auth/delete/cancel/t",
        "auth.two_factor_setup": "/auth/two-factor/setup",
    }
    assert [name for name in DEFERRED_VIEW_MODULES if name in seen["before"]] == []
    for path, (status, location) in seen["statuses"].items():
        assert status == 302 and location.startswith("/auth/login?next="), (path, status, location)
    imported = {"erlen_auth.session_views", "erlen_auth.access_token_views", "erlen_auth.passkey_views"}
    imported |= {"erlen_auth.totp_views", "erlen_auth.totp"}
    assert imported | {"erlen_auth.data_rights_views", "erlen_auth.data_rights"} <= set(seen["after"])
    # The admin's access check sends the visitor to log in before any admin view runs.
    assert "erlen_admin.routes" not in seen["after"]


def test_the_command_listing_imports_no_command_line_code(app_folder: Path) -> None:
    out = _run(
        app_folder,
        """
        import json, sys
        from erlen.cli import main

        sys.argv = ["erlen", "--app", "lazy_worker_app", "--help"]
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, exc.code
        print(json.dumps(sorted(sys.modules)))
        """,
    )
    *listing, modules = out.splitlines()
    commands = "\n".join(listing).split("Commands:\n", 1)[1]
    for name in ["api", "check", "db", "mail", "permissions", "plugins", "role", "tasks", "user"]:
        assert f"\n  {name} " in f"\n{commands}"
    plugin_modules = [name for name in CLI_MODULES if name not in ("erlen.cli",)]
    assert [name for name in plugin_modules if name in json.loads(modules)] == []


def test_commands_run_on_first_use(app_folder: Path) -> None:
    # A command of each kind, in a fresh interpreter: a group made per app with another plugin's commands
    # added to it (db + migrate), a shared group (mail), a command (permissions), a built-in (check).
    out = _run(
        app_folder,
        """
        from erlen.cli import cli

        for args in (["db", "upgrade"], ["db", "current"], ["permissions"], ["mail", "--help"], ["check"]):
            try:
                cli.main(["--app", "lazy_worker_app", *args], prog_name="erlen")
            except SystemExit as exc:
                assert not exc.code, (args, exc.code)
            print("--", " ".join(args))
        """,
    )
    assert "-- db upgrade" in out
    assert "admin.access" in out  # erlen permissions lists the admin's permission
    assert "send-test" in out  # erlen mail --help lists its subcommands
    assert "-- check" in out


def test_the_listed_help_is_the_commands_own(served_app: ServedApp) -> None:
    app = served_app("helps", PLUGINS)
    lazy = {name: command for name, command in app.cli.commands.items() if isinstance(command, erlen.LazyCommand)}
    assert sorted(lazy) == ["api", "check", "db", "mail", "permissions", "plugins", "role", "tasks", "user"]
    for name, command in lazy.items():
        listed = [command.get_short_help_str(limit) for limit in (20, 45, 80, 200)]
        real = command.load()
        assert [real.get_short_help_str(limit) for limit in (20, 45, 80, 200)] == listed, name
        assert real.hidden == command.hidden, name
    db = lazy["db"].load()
    assert isinstance(db, click.Group)
    assert {"upgrade", "downgrade", "revision", "info", "create-all"} <= set(db.commands)


#: The six extensions of issue 17's start-up target (no api, no tasks).
SIX_PLUGINS = ["db", "forms", "auth", "migrate", "mail", "admin"]

#: What ``erlen --help`` (and any app the ``erlen`` command creates to list commands) does not import: the
#: database layer, the form library and every model, imported when a command runs (see erlen.defer_setup).
NOT_IMPORTED_BY_HELP = [
    "sqlalchemy",
    "wtforms",
    "alembic",
    "erlen_db.database",
    "erlen_auth.models",
    "erlen_auth.views",
    "erlen_admin.models",
    "erlen_admin.views.model_view",
    "erlen_mail.outbox.models",
]

#: The six extensions' app, with a command of the app's own that shows how far the app is set up.
SIX_APP_MODULE = f"""
import json

import click
import erlen
from flask import current_app


def create_app():
    app = erlen.create_app("six_cli_app", {_app_config(SIX_PLUGINS)!r})

    @app.cli.command("probe")
    def probe():
        "Show how far the app is set up."
        import erlen_auth

        login = current_app.view_functions["auth.login"]
        click.echo(json.dumps({{
            "deferred": erlen.setup_deferred(current_app),
            "database": "db" in current_app.extensions,
            "login": [login.__module__, login.__qualname__],
            "permissions": sorted(erlen_auth.permissions_of(current_app)),
        }}))

    return app
"""


#: Put first in the scripts that run the command: hides the environment's ``flask.commands`` entry points, which
#: Flask's CLI loads for every listing (apiflask's ``spec``, installed in the test environment, imports
#: SQLAlchemy), as bench/bench_startup.py does: what another installed package adds is no part of Erlen's start-up.
HIDE_FLASK_COMMANDS = """
from importlib import metadata

_entry_points = metadata.entry_points


def _without_flask_commands(**params):
    if params.get("group") == "flask.commands":
        return metadata.EntryPoints(())
    return _entry_points(**params)


metadata.entry_points = _without_flask_commands
"""


@pytest.fixture
def six_folder(tmp_path: Path) -> Path:
    (tmp_path / "six_cli_app.py").write_text(SIX_APP_MODULE, encoding="utf-8")
    return tmp_path


def test_erlen_help_of_the_six_plugins_imports_no_sqlalchemy(six_folder: Path) -> None:
    out = _run(
        six_folder,
        HIDE_FLASK_COMMANDS
        + textwrap.dedent(
            """
        import json, sys
        from erlen.cli import main

        sys.argv = ["erlen", "--app", "six_cli_app", "--help"]
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, exc.code
        print(json.dumps(sorted(sys.modules)))
        """
        ),
    )
    *listing, modules = out.splitlines()
    commands = "\n".join(listing).split("Commands:\n", 1)[1]
    for name in ["check", "db", "mail", "permissions", "plugins", "probe", "role", "routes", "run", "shell", "user"]:
        assert f"\n  {name} " in f"\n{commands}", name
    assert [name for name in NOT_IMPORTED_BY_HELP if name in json.loads(modules)] == []


#: The six extensions' app with its set-up finished by its factory: the help pages the erlen command printed
#: before it left the set-up pending for them.
SET_UP_APP_MODULE = """
import erlen
import six_cli_app


def create_app():
    app = six_cli_app.create_app()
    erlen.finish_setup(app)
    return app
"""

#: Runs ``erlen --app APP ARGS...`` (``sys.argv[1:]``), then prints its exit status and the modules imported.
HELP_SCRIPT = HIDE_FLASK_COMMANDS + textwrap.dedent(
    """
    import json, sys
    from erlen.cli import cli

    app, *args = sys.argv[1:]
    try:
        cli.main(["--app", app, *args], prog_name="erlen")
    except SystemExit as exc:
        print("exit", exc.code)
    print(json.dumps(sorted(sys.modules)))
    """
)


@pytest.mark.parametrize(
    "args",
    [
        ["db", "--help"],
        ["db"],  # a group without a subcommand: its help page
        ["db", "upgrade", "--help"],  # erlen-migrate's, added to erlen-db's group when it loads
        ["mail", "--help"],
        ["user", "--help"],
        ["user", "create", "--help"],
        ["user", "token", "create", "--help"],
        ["check", "--help"],
    ],
)
def test_a_help_page_of_the_six_plugins_is_the_set_up_apps_without_sqlalchemy(
    six_folder: Path, args: list[str]
) -> None:
    (six_folder / "six_set_up_app.py").write_text(SET_UP_APP_MODULE, encoding="utf-8")
    set_up = _python(six_folder, HELP_SCRIPT, "six_set_up_app", *args)
    shown = _python(six_folder, HELP_SCRIPT, "six_cli_app", *args)
    *set_up_page, set_up_modules = set_up.stdout.splitlines()
    *page, modules = shown.stdout.splitlines()
    assert (page, shown.stderr) == (set_up_page, set_up.stderr)
    assert "Usage: erlen " in shown.stdout + shown.stderr
    assert "sqlalchemy" in json.loads(set_up_modules)  # compared with the page of an app whose set-up ran
    assert [name for name in NOT_IMPORTED_BY_HELP if name in json.loads(modules)] == []


def test_an_app_created_for_the_listing_has_every_route_of_a_served_app(six_folder: Path) -> None:
    # The app the erlen command creates (with its set-up deferred) registers the same rules, so url_for works,
    # without importing SQLAlchemy; once its set-up is finished, its views and permissions are a served app's.
    out = _run(
        six_folder,
        COMMAND_MADE
        + textwrap.dedent(
            """
        import json, sys
        import six_cli_app
        from flask import url_for

        listed = command_made(six_cli_app.create_app)
        rules = sorted((rule.rule, rule.endpoint, sorted(rule.methods)) for rule in listed.url_map.iter_rules())
        with listed.test_request_context():
            urls = [url_for(endpoint) for endpoint in ("auth.login", "auth.register", "auth.two_factor", "admin.index")]
        before = sorted(sys.modules)
        served = six_cli_app.create_app()
        erlen.finish_setup(listed)

        def views(app):
            return {endpoint: [view.__module__, view.__qualname__] for endpoint, view in app.view_functions.items()}

        import erlen_auth

        print(json.dumps({
            "urls": urls,
            "before": before,
            "same_rules": rules == sorted(
                (rule.rule, rule.endpoint, sorted(rule.methods)) for rule in served.url_map.iter_rules()
            ),
            "same_views": views(listed) == views(served),
            "login_is_served_login": listed.view_functions["auth.login"] is served.view_functions["auth.login"],
            "same_permissions": erlen_auth.permissions_of(listed) == erlen_auth.permissions_of(served),
            "permissions": len(erlen_auth.permissions_of(served)),
            "deferred": [erlen.setup_deferred(listed), erlen.setup_deferred(served)],
        }))
        """
        ),
    )
    seen = json.loads(out.splitlines()[-1])
    assert seen["urls"] == ["/auth/login", "/auth/register", "/auth/two-factor", "/admin/"]
    assert [name for name in NOT_IMPORTED_BY_HELP if name in seen["before"]] == []
    assert seen["same_rules"] and seen["same_views"] and seen["login_is_served_login"]
    assert seen["same_permissions"] and seen["permissions"] > 0
    assert seen["deferred"] == [False, False]


def test_commands_that_use_the_database_work_after_the_deferred_start(six_folder: Path) -> None:
    out = _run(
        six_folder,
        HIDE_FLASK_COMMANDS
        + textwrap.dedent(
            """
        import sqlite3, sys
        from erlen.cli import cli

        def run(*args, input=None):
            if input is not None:
                import io
                sys.stdin = io.StringIO(input)
            try:
                cli.main(["--app", "six_cli_app", *args], prog_name="erlen")
            except SystemExit as exc:
                assert not exc.code, (args, exc.code)

        run("db", "upgrade")
        print("sqlalchemy imported by db upgrade:", "sqlalchemy" in sys.modules)
        run("user", "create", "--email", "ann@example.com", input="a long enough password\\n")
        run("probe")
        import os
        path = os.environ["ERLEN_DB_URL"].removeprefix("sqlite:///")
        rows = sqlite3.connect(path).execute("SELECT email FROM auth_user").fetchall()
        print("users:", rows)
        """
        ),
    )
    lines = out.splitlines()
    assert "sqlalchemy imported by db upgrade: True" in lines
    assert any(line.startswith("Created user") and "ann@example.com" in line for line in lines)
    assert "users: [('ann@example.com',)]" in lines
    probe = json.loads(next(line for line in lines if line.startswith("{")))
    # The app's own command runs on a fully set up app: its database, the real views, the permissions.
    assert probe == {
        "deferred": False,
        "database": True,
        "login": ["erlen_auth.views", "login"],
        "permissions": probe["permissions"],
    }
    assert "admin.access" in probe["permissions"]


def test_a_served_app_sets_up_everything_when_created(served_app: ServedApp) -> None:
    app = served_app("served", SIX_PLUGINS)
    import erlen_auth
    import erlen_auth.views
    import erlen_db

    assert not erlen.setup_deferred(app)
    assert isinstance(app.extensions["db"], erlen_db.Database)
    assert "auth_user" in {table.name for table in app.extensions["db"].tables()}
    assert "admin" in app.extensions  # the admin's registry, built (and checked) at start
    assert "admin.access" in erlen_auth.permissions_of(app)
    assert app.view_functions["auth.login"] is erlen_auth.views.login  # no stand-in in front of the log-in page


def test_a_served_app_refuses_a_bad_database_url_when_created(served_app: ServedApp) -> None:
    with pytest.raises(erlen.SettingError, match="DB_URL"):
        served_app("served", SIX_PLUGINS, DB_URL="nosuchdb://x")


def test_the_command_reports_a_bad_database_url_when_a_command_runs(six_folder: Path) -> None:
    script = """
        import sys
        from erlen.cli import cli

        try:
            cli.main(["--app", "six_cli_app", *sys.argv[1:]], prog_name="erlen")
        except SystemExit as exc:
            print("exit", exc.code)
    """
    env = {**_env(six_folder), "ERLEN_DB_URL": "nosuchdb://x"}
    listing = _python(six_folder, script, "--help", env=env)
    assert "exit 0" in listing.stdout and "Commands:" in listing.stdout  # listing needs no database
    upgrade = _python(six_folder, script, "db", "upgrade", env=env)
    assert "exit 2" in upgrade.stdout
    assert "DB_URL" in upgrade.stderr and "Traceback" not in upgrade.stderr


#: Prints, for the app ``make_app()`` returns, the order of what Flask calls around a request, in a served app and
#: in one the erlen command made once its set-up is finished (`erlen run` serves the latter).
HOOK_ORDER_SCRIPT = """
import json, sys
import erlen
from flask import got_request_exception


def name(function):
    function = getattr(function, "__func__", function)
    return f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', repr(function))}"


def orders(app):
    def each(spec):
        return {str(key): [name(function) for function in functions] for key, functions in spec.items()}

    return {
        "before_request": each(app.before_request_funcs),
        "after_request": each(app.after_request_funcs),
        "teardown_request": each(app.teardown_request_funcs),
        "teardown_appcontext": [name(function) for function in app.teardown_appcontext_funcs],
        "template_context_processors": each(app.template_context_processors),
        "url_value_preprocessors": each(app.url_value_preprocessors),
        "url_default_functions": each(app.url_default_functions),
        # Receivers of the signal Flask sends before the 500 handlers (erlen-db's rollback): blinker promises no
        # order among them, so which are connected is compared.
        "got_request_exception": sorted(name(receiver) for receiver in got_request_exception.receivers_for(app)),
        # Flask finds an error handler by blueprint, status code and the exception's classes, never by position:
        # the handlers are compared by those keys.
        "error_handler_spec": {
            str(blueprint): {
                str(code): sorted(f"{cls.__module__}.{cls.__qualname__}={name(f)}" for cls, f in handlers.items())
                for code, handlers in codes.items()
            }
            for blueprint, codes in app.error_handler_spec.items()
        },
    }


served = make_app()
made = command_made(make_app)
erlen.finish_setup(made)
print(json.dumps({"served": orders(served), "made": orders(made)}))
"""


def _hook_orders(folder: Path, make_app: str, env: dict[str, str] | None = None) -> dict[str, t.Any]:
    out = _run(folder, COMMAND_MADE + textwrap.dedent(make_app) + HOOK_ORDER_SCRIPT, env)
    return t.cast(dict[str, t.Any], json.loads(out.splitlines()[-1]))


def test_an_app_the_command_made_has_a_served_apps_hooks_in_the_same_order(six_folder: Path) -> None:
    # `erlen run` serves an app the command made: once its set-up is finished, every request hook, error handler
    # and context processor sits where it does in a served app (a hook registered late would run out of order).
    seen = _hook_orders(
        six_folder,
        f"""
        from flask import got_request_exception


        def own_hook(*args, **signalled):
            return args[0] if args else None


        def make_app():
            # Every optional hook registered: two-factor's enforcement is one only when required.
            app = erlen.create_app("six_cli_app", {_app_config(SIX_PLUGINS, AUTH_TWO_FACTOR_REQUIRED=True)!r})
            # The app's own hooks, added once the plugins' are: after theirs in either app.
            for register in (app.before_request, app.after_request, app.teardown_request, app.teardown_appcontext):
                register(own_hook)
            app.context_processor(lambda: {{}})
            app.register_error_handler(LookupError, own_hook)
            got_request_exception.connect(own_hook, app)  # an error reporter of the app's own
            return app
        """,
    )
    assert seen["made"] == seen["served"]
    teardowns = seen["served"]["teardown_request"]["None"]
    assert "erlen_auth.state:lift_token_restriction" in teardowns, teardowns
    assert "erlen_auth.two_factor:enforce_second_factor" in seen["served"]["before_request"]["None"]
    receivers = ["__main__:own_hook", "erlen_db.plugin:_roll_back_after_exception"]
    assert seen["served"]["got_request_exception"] == receivers


def test_the_example_app_made_by_the_command_has_a_served_apps_hooks_in_the_same_order(tmp_path: Path) -> None:
    from example_apps import example_environ

    environ = example_environ(tmp_path)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ERLEN_", "FLASK_"))}
    env.update(environ)
    seen = _hook_orders(
        tmp_path,
        f"""
        import notes_app

        def make_app():
            return notes_app.create_app({environ!r}, instance_path={str(tmp_path / "instance")!r})
        """,
        env,
    )
    assert seen["made"] == seen["served"]
    assert seen["served"]["teardown_request"]  # the example app has request hooks to compare


#: What a served worker of the six extensions has not imported once it has answered its log-in page: issue 17's
#: worker memory (bench/bench_startup.py's worker_rss); each is imported by the first request that needs it.
NOT_IMPORTED_BY_THE_LOGIN_PAGE = [
    *(name for name in CLI_MODULES if not name.startswith(("erlen_api", "erlen_tasks"))),
    *FIRST_USE_MODULES,
    *CHECK_MODULES,
    *DEFERRED_VIEW_MODULES,
    # This worker's mail goes to the console: no other backend.
    *(name for name in UNUSED_FEATURE_MODULES if name != "erlen_mail.backends.console"),
    "erlen_mail.backends.memory",
    # The Redis throttle store's failover: this worker counts failed log-ins in memory (erlen-api's rate limits
    # and erlen-tasks, which use it too, are not enabled).
    "erlen.failover",
    # The second sign-in step and its enforcement, the e-mail change pages (their template globals and the
    # second factor's enrolment check are erlen.lazy_view stand-ins).
    "erlen_auth.two_factor",
    "erlen_auth.email_change",
    "erlen_auth.totp_views",
]


def test_a_served_six_plugin_worker_imports_only_what_the_login_page_needs(six_folder: Path) -> None:
    out = _run(
        six_folder,
        f"        CONFIG = {_app_config(SIX_PLUGINS, MAIL_BACKEND='console')!r}\n"
        + """
        import json, sys
        import erlen
        from werkzeug.test import EnvironBuilder

        app = erlen.create_app("six_worker", CONFIG)
        assert not erlen.setup_deferred(app)  # a served app: everything set up when created
        environ = EnvironBuilder(path="/auth/login").get_environ()
        statuses = []
        for _ in range(3):
            body = app(environ.copy(), lambda status, headers, exc_info=None: statuses.append(status))
            page = b"".join(body)
            body.close()
        print(json.dumps({"statuses": statuses, "form": b"csrf" in page, "modules": sorted(sys.modules)}))
        """,
    )
    seen = json.loads(out.splitlines()[-1])
    assert seen["statuses"] == ["200 OK"] * 3 and seen["form"]
    assert {"erlen_auth.views", "erlen_auth.models", "erlen_db.database", "erlen_mail.backends.console"} <= set(
        seen["modules"]
    )
    assert [name for name in NOT_IMPORTED_BY_THE_LOGIN_PAGE if name in seen["modules"]] == []


#: An app with erlen-tasks, and a plugin of its own declaring a job in a module of its own that
#: imports SQLAlchemy, as an app's jobs do (the example app's): ``erlen --help`` needs neither the jobs nor the
#: task queue's engine. ``jobs_cli_app.py`` and ``jobs_cli_plugin/``.
JOBS_APP_MODULE = f"""
import erlen


def create_app():
    return erlen.create_app("jobs_cli_app", {_app_config(["db", "tasks", "jobs_cli_plugin"])!r})
"""

JOBS_PLUGIN_MODULE = """
import erlen
from erlen_db import unless_unavailable  # a decorator for template globals: no SQLAlchemy

PLUGIN_NAME = "jobs_cli_plugin"


@erlen.hookimpl
def erlen_tasks_jobs():
    from .jobs import JOBS

    return JOBS


@unless_unavailable(lambda: "fallback")
def greeting():
    return "hello"


@erlen.hookimpl
def erlen_template_globals():
    return {"greeting": greeting}
"""

JOBS_MODULE = """
import sqlalchemy
from erlen_tasks import job


@job
def tidy():
    pass


JOBS = [tidy]
"""


def test_erlen_help_imports_neither_the_apps_jobs_nor_the_task_queue(tmp_path: Path) -> None:
    (tmp_path / "jobs_cli_app.py").write_text(JOBS_APP_MODULE, encoding="utf-8")
    (tmp_path / "jobs_cli_plugin").mkdir()
    (tmp_path / "jobs_cli_plugin" / "__init__.py").write_text(JOBS_PLUGIN_MODULE, encoding="utf-8")
    (tmp_path / "jobs_cli_plugin" / "jobs.py").write_text(JOBS_MODULE, encoding="utf-8")
    shown = _python(tmp_path, HELP_SCRIPT, "jobs_cli_app", "--help")
    *page, modules = shown.stdout.splitlines()
    assert "exit 0" in page, shown.stderr
    assert "\n  tasks " in "\n".join(page)
    imported = json.loads(modules)
    assert [name for name in ["sqlalchemy", "dramatiq", "jobs_cli_plugin.jobs"] if name in imported] == []

    # A command that runs finishes the set-up first: the jobs are there.
    listed = _python(tmp_path, HELP_SCRIPT, "jobs_cli_app", "shell", "--help")
    assert "exit 0" in listed.stdout, listed.stderr
    run = _python(
        tmp_path,
        HIDE_FLASK_COMMANDS
        + """
import erlen, erlen_tasks, jobs_cli_app
with erlen.deferring_setup():
    app = jobs_cli_app.create_app()
assert erlen.setup_deferred(app)
print(sorted(erlen_tasks.state_of(app).jobs))
print(app.jinja_env.globals["greeting"]())
""",
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["['jobs_cli_plugin.jobs.tidy']", "hello"]
