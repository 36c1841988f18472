"""The ``mail`` plugin: settings, backends, templates, checks and the ``mail`` command group."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable
from pathlib import Path

import erlen
from erlen import ConfigError, PluginError, Setting

from .backends import BUILTIN_BACKENDS, Backends
from .outbox.jobs import erlen_tasks_jobs  # noqa: F401  (erlen-tasks' jobs hook, optional)
from .state import EXTENSION_KEY, MailState

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import ModuleType

    import click
    from flask import Flask
    from flask.cli import AppGroup

    from erlen.checks import CheckMessage

    from .backends.base import Backend

PLUGIN = erlen.Plugin(
    name="mail",
    integrates_with=["db"],
    description="Sends email: messages, templates, SMTP and other backends, bulk sending, hooks.",
    title="Mail",
)

#: Below this, mail.W005: a lease shorter than SQLite's default busy timeout (5 s) can run out
#: while the worker's renewal waits for the database.
_SHORTEST_LEASE = 5.0

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "localhost.localdomain"})


def _port(value: object) -> None:
    # Otherwise a bad port surfaces only at the first send, as an OverflowError from the socket.
    if isinstance(value, int) and not 1 <= value <= 65535:
        raise ValueError("must be a TCP port from 1 to 65535")


def _one_address(value: object) -> None:
    # Checked at start-up: a bad default sender would otherwise fail every send (the first
    # password reset, say) with an error that does not name the setting.
    if isinstance(value, str):
        from .errors import MessageError
        from .message import format_address

        try:
            format_address(value, header="From")
        except MessageError:  # the error shows the value: say what it should be
            raise ValueError("must be one valid email address, such as 'Example <noreply@example.com>'") from None


@erlen.hookimpl
def erlen_hookspecs() -> Iterable[ModuleType]:
    from . import hookspecs

    return [hookspecs]


@erlen.hookimpl
def erlen_settings() -> Iterable[Setting]:
    return [
        Setting(
            "BACKEND",
            str,
            default="",
            help="Where mail goes: smtp, console, file, memory, null, or a backend a plugin adds. "
            "Empty (the default) means console when DEBUG is on, memory when TESTING is on, smtp otherwise.",
        ),
        Setting(
            "DEFAULT_SENDER",
            t.Optional[str],  # noqa: UP045 - a runtime value, not an annotation
            default=None,
            validate=_one_address,
            help="The From address of messages that do not set one, such as 'Example <noreply@example.com>'.",
        ),
        Setting("SMTP_HOST", str, default="localhost", help="The SMTP server's host name."),
        Setting(
            "SMTP_PORT",
            t.Optional[int],  # noqa: UP045
            default=None,
            validate=_port,
            help="The SMTP server's port; by default 25, 587 with starttls, 465 with ssl.",
        ),
        Setting(
            "SMTP_SECURITY",
            t.Literal["none", "starttls", "ssl"],
            default="none",
            help="none (plain, for a local relay), starttls (upgrade the connection) or ssl (implicit TLS).",
        ),
        Setting("SMTP_USERNAME", t.Optional[str], default=None, help="Log in with this user name."),  # noqa: UP045
        Setting(
            "SMTP_PASSWORD",
            t.Optional[str],  # noqa: UP045
            default=None,
            secret=True,
            help="The password of SMTP_USERNAME.",
        ),
        Setting(
            "SMTP_TIMEOUT",
            float,
            default=10.0,
            validate=erlen.greater_than(0),
            help="Seconds to wait for the SMTP server to connect or answer before the send fails.",
        ),
        Setting(
            "SMTP_CA_FILE",
            t.Optional[Path],  # noqa: UP045
            default=None,
            help="A PEM file of certificate authorities to trust instead of the system's.",
        ),
        Setting(
            "SMTP_VERIFY",
            bool,
            default=True,
            help="Verify the server's TLS certificate and host name. Turn off only for testing.",
        ),
        Setting(
            "BULK_RECONNECT_AFTER",
            int,
            default=100,
            validate=erlen.at_least(0),
            help="send_many opens a new connection after this many messages; 0 keeps one connection.",
        ),
        Setting(
            "OUTBOX_MAX_ATTEMPTS",
            int,
            default=8,
            validate=erlen.greater_than(0),
            help="Attempts to deliver a queued message before it is marked failed (outbox, needs db).",
        ),
        Setting(
            "OUTBOX_BACKOFF_SECONDS",
            float,
            default=60.0,
            validate=erlen.at_least(0),
            help="Wait after a queued message's first failed attempt; it doubles after each further one.",
        ),
        Setting(
            "OUTBOX_MAX_BACKOFF_SECONDS",
            float,
            default=21600.0,
            validate=erlen.at_least(0),
            help="The longest wait between two attempts of a queued message.",
        ),
        Setting(
            "OUTBOX_LEASE_SECONDS",
            float,
            default=15.0,
            validate=erlen.greater_than(0),
            help="How long a worker's claim on queued messages lasts; a live worker renews it five times per "
            "lease while it sends. After it, another worker may claim the messages of a worker that died, "
            "or report its interrupted group uncertain: the longest a crash delays mail.",
        ),
        Setting(
            "OUTBOX_BATCH_SIZE",
            int,
            default=100,
            validate=erlen.greater_than(0),
            help="Queued messages a worker claims per batch.",
        ),
        Setting(
            "OUTBOX_GROUP_SIZE",
            int,
            default=10,
            validate=erlen.greater_than(0),
            help="The most queued messages a worker marks sending together, and records sent together, in one "
            "commit (the commit overlaps the first message's SMTP exchange). A batch's groups grow 1, 2, 4, ... up "
            "to it (and go on growing after a full batch), so a shallow queue goes out one message per commit. It is "
            "the most messages one crash of a worker (killed mid-group) leaves uncertain, those of the group it "
            "had not handed over yet included: "
            "never sent again without an operator (erlen mail outbox --status uncertain, then erlen mail retry or "
            "discard). 1: at most the one message in flight, at about half the throughput.",
        ),
        Setting(
            "OUTBOX_DURABLE_MARKS",
            bool,
            default=False,
            help="Make the worker's commits of sending and sent marks wait for the database's disk. Off, they "
            "survive a crash of the worker but not of the database server (or machine): one of those may then "
            "send again the messages handed over in the last moments before it.",
        ),
        Setting(
            "OUTBOX_POLL_SECONDS",
            float,
            default=5.0,
            validate=erlen.greater_than(0),
            help="How long the worker waits when no queued message is due.",
        ),
        Setting(
            "OUTBOX_RESEND_UNCERTAIN",
            bool,
            default=False,
            help="Send again (same Message-ID) a queued message whose send was interrupted after the server may "
            "have accepted it, instead of marking it uncertain: at-least-once instead of at-most-once.",
        ),
        Setting(
            "OUTBOX_WITH_TASKS",
            bool,
            default=True,
            help="With the tasks plugin enabled, queued mail is delivered by erlen-tasks jobs (`erlen tasks worker`), "
            "so no `erlen mail worker` is needed. Off, run `erlen mail worker` as without tasks.",
        ),
        Setting(
            "FILE_PATH",
            t.Optional[Path],  # noqa: UP045
            default=None,
            help="The folder the file backend writes .eml files into; <instance folder>/mail by default.",
        ),
        Setting(
            "HEALTH_SMTP",
            bool,
            default=False,
            help="With erlen-ops' /readyz and the smtp backend: check that the mail server accepts a connection "
            "(and the login), within MAIL_SMTP_TIMEOUT.",
        ),
        Setting(
            "CONSOLE_STREAM",
            t.Literal["stdout", "stderr"],
            default="stdout",
            help="Where the console backend prints messages.",
        ),
    ]


def default_backend(app: Flask) -> str:
    """The backend used when ``MAIL_BACKEND`` is empty: console in debug, memory in tests, else smtp."""
    if app.debug or erlen.plugins_of(app).loaded_config.get("DEBUG"):
        return "console"
    if app.testing:
        return "memory"
    return "smtp"


def available_backends(app: Flask) -> Backends:
    """Every backend of the app: erlen-mail's (each imported when first read from the mapping) and those enabled
    plugins add.

    :param app: the app whose plugins are asked.
    :raises PluginError: two of them have the same name, or one is not a Backend.
    """
    from .backends.base import Backend

    backends: dict[str, type[Backend] | str] = dict(BUILTIN_BACKENDS)
    owners = dict.fromkeys(backends, "mail")
    for plugin, provided in erlen.plugins_of(app).call_each("erlen_mail_backends"):
        given = erlen.hook_mapping(plugin.name, "erlen_mail_backends", provided, "backend names to Backend subclasses")
        for name, backend in given.items():
            if not (isinstance(backend, type) and issubclass(backend, Backend)):
                raise PluginError(
                    f"Plugin {plugin.name!r}: erlen_mail_backends returned {backend!r} for {name!r}; "
                    "return subclasses of erlen_mail.Backend.",
                    plugin=plugin.name,
                )
            if name in backends:
                raise PluginError(
                    f"Plugins {owners[name]!r} and {plugin.name!r} both provide the mail backend {name!r}; "
                    "one of them must use another name.",
                    plugin=plugin.name,
                )
            backends[name] = backend
            owners[name] = plugin.name
    return Backends(backends)


@erlen.hookimpl
def erlen_init_app(app: Flask) -> None:
    backends = available_backends(app)
    name = app.config.get("MAIL_BACKEND") or default_backend(app)
    state = MailState(app, backends, name)
    # Raises ConfigError for an unknown backend; imports the one chosen (only it: the others are never used).
    state.use_backend(name)
    app.extensions[EXTENSION_KEY] = state


@erlen.hookimpl
def erlen_template_folders() -> Iterable[str]:
    return [str(Path(__file__).parent / "jinja")]


@erlen.hookimpl(optionalhook=True)
def erlen_db_models() -> Iterable[t.Any]:
    # Called only when db is enabled (so erlen-db is installed): the outbox's table.
    from .outbox.models import OutboxMessage

    return [OutboxMessage]


@erlen.hookimpl(optionalhook=True)
def erlen_migrate_locations() -> str:
    return "migrations"


#: ``erlen mail``'s help: here, so that ``erlen --help`` lists it without importing :mod:`erlen_mail.cli`.
MAIL_HELP = "Send email and inspect the mail setup."


@erlen.hookimpl
def erlen_cli_commands(cli: AppGroup) -> Iterable[click.Command]:
    # Imported when run (LazyCommand): every worker creates the app, none runs it.
    return [erlen.LazyCommand("mail", "erlen_mail.cli:mail_group", help=MAIL_HELP)]


@erlen.hookimpl
def erlen_checks(app: Flask, deploy: bool) -> Iterable[CheckMessage]:
    # Imported when called: only `erlen check` runs the checks, never a worker.
    from erlen.checks import info, warning

    from .state import state_of

    problems: list[CheckMessage] = []
    config = app.config
    backend = state_of(app).backend_name
    if not config.get("MAIL_DEFAULT_SENDER"):
        problems.append(
            info(
                "mail.I001",
                "MAIL_DEFAULT_SENDER is not set, so every message must pass sender=.",
                "Set MAIL_DEFAULT_SENDER (ERLEN_MAIL_DEFAULT_SENDER), such as 'Example <noreply@example.com>'.",
            )
        )
    from .outbox import outbox_enabled

    if not outbox_enabled(app):
        problems.append(
            info(
                "mail.I002",
                "The durable mail outbox is off: the db plugin is not enabled, so erlen_mail.queue() raises.",
                "To queue mail for `erlen mail worker`, install erlen-mail[outbox] and add 'db' and 'migrate' "
                "to PLUGINS.",
            )
        )
    lease = config.get("MAIL_OUTBOX_LEASE_SECONDS", 15.0)
    if isinstance(lease, (int, float)) and lease < _SHORTEST_LEASE:
        problems.append(
            warning(
                "mail.W005",
                f"MAIL_OUTBOX_LEASE_SECONDS ({lease:g}) is under {_SHORTEST_LEASE:g} seconds: the worker renews "
                "its claims every fifth of it, and a database that pauses longer than the lease (a busy SQLite "
                "file, a failover) lets another worker report messages still being sent as uncertain.",
                f"Raise MAIL_OUTBOX_LEASE_SECONDS to {_SHORTEST_LEASE:g} or more (15 by default).",
            )
        )
    if not deploy:
        return problems
    if backend in ("console", "memory", "null", "file"):
        problems.append(
            warning(
                "mail.W001",
                f"The mail backend is {backend!r}, so no email reaches anyone in production.",
                "Set MAIL_BACKEND to smtp (or a provider's backend) in production.",
            )
        )
    if backend == "smtp":
        host = str(config.get("MAIL_SMTP_HOST", "localhost"))
        security = config.get("MAIL_SMTP_SECURITY", "none")
        if security == "none" and host.lower() not in _LOCAL_HOSTS:
            problems.append(
                warning(
                    "mail.W002",
                    f"Mail goes to {host} without TLS, so it can be read and changed on the way"
                    + (", and the SMTP password is sent in the clear." if config.get("MAIL_SMTP_USERNAME") else "."),
                    "Set MAIL_SMTP_SECURITY to starttls or ssl.",
                )
            )
        if not config.get("MAIL_SMTP_VERIFY", True):
            problems.append(
                warning(
                    "mail.W003",
                    "MAIL_SMTP_VERIFY is off: the SMTP server's certificate is not checked.",
                    "Turn MAIL_SMTP_VERIFY on; use MAIL_SMTP_CA_FILE for a private certificate authority.",
                )
            )
        if config.get("MAIL_SMTP_USERNAME") and not config.get("MAIL_SMTP_PASSWORD"):
            problems.append(
                warning("mail.W004", "MAIL_SMTP_USERNAME is set but MAIL_SMTP_PASSWORD is not.", "Set the password.")
            )
    return problems


# erlen-ops' hooks, optional (erlen-mail does not depend on erlen-ops): their module is imported when erlen-ops
# calls, never by the workers of an app without it.
@erlen.hookimpl(optionalhook=True)
def erlen_health_checks(app: Flask) -> Mapping[str, Callable[[], Mapping[str, float] | None]]:
    from .health import readiness_checks

    return readiness_checks(app)


@erlen.hookimpl(optionalhook=True)
def erlen_ops_metrics(app: Flask, metrics: t.Any) -> None:
    from .health import install_metrics

    install_metrics(app, metrics)


__all__ = ["PLUGIN", "ConfigError", "available_backends", "default_backend"]
