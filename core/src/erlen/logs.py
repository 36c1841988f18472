"""Structured logs: with ``LOG_FORMAT = "json"``, every log line is one JSON object, secrets redacted.

The app configures Python's logging once, as it starts (in the core's ``erlen_init_app``): a handler on
the root logger writes each record to standard error through :class:`JsonFormatter`, at ``LOG_LEVEL``.
The web workers, the ``erlen`` commands and the long-running workers (``erlen mail worker``) all build the
app, so all of them log the same way. With the default ``LOG_FORMAT = "text"`` logging is left as Flask
and Python set it up, and nothing here runs.

A line holds ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``; ``request_id`` in a request
(:mod:`erlen.request_ids`); the fields plugins add through ``erlen_log_fields`` (erlen-auth's
``user_id``); ``plugin``, the plugin whose code logged (the one whose package the logger is named after,
or an ``extra={"plugin": ...}``); ``event`` and any other ``extra`` fields of the call; and
``exception`` with the traceback. Secrets are redacted (:mod:`erlen.redaction`): the values of secret
settings, URL passwords, credentials in the text, and fields named like secrets.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import sys
import typing as t
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from flask.logging import default_handler

from .redaction import MASK, is_secret_name, redact_fields, redact_text, redact_value
from .request_ids import request_id

if t.TYPE_CHECKING:
    from flask import Flask

    from .plugins.registry import PluginRegistry

#: The key of ``app.extensions`` under which an app that logs JSON lines keeps its :class:`LogState`.
EXTENSION_KEY = "erlen.logs"

#: The fields of every ``logging.LogRecord``: the others come from ``extra`` and are written as fields.
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

#: Shorter secrets are not hidden by value (``"dev"`` would be masked in every word that holds it).
_MIN_SECRET_LENGTH = 8

#: Set while the ``erlen_log_fields`` hook runs, so that a record its implementations log gets no fields.
_in_fields_hook: contextvars.ContextVar[bool] = contextvars.ContextVar("erlen_in_log_fields_hook", default=False)


@dataclass
class LogState:
    """What an app's log lines need to know about it.

    :param secrets: the values of the settings declared ``secret=True``, hidden wherever they occur.
    :param plugins: the package or module of each plugin's code (a logger named after it or a module in it is
        the plugin's), to the plugin's name.
    :param fields_hook: the caller of ``erlen_log_fields``, ``None`` when no plugin implements it.
    """

    secrets: tuple[str, ...] = ()
    plugins: Mapping[str, str] = field(default_factory=dict)
    fields_hook: t.Callable[[], list[Mapping[str, t.Any] | None]] | None = None


def json_logs(app: Flask | None = None) -> bool:
    """Whether ``app`` (the current app by default) writes JSON log lines (``LOG_FORMAT = "json"``).

    A command that prints its progress (``erlen mail worker``) logs it instead when this is true.

    :param app: the app; the current app by default.
    """
    app = app if app is not None else t.cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
    return app.config.get("LOG_FORMAT") == "json"


def log_state(registry: PluginRegistry, config: Mapping[str, t.Any]) -> LogState:
    """The :class:`LogState` of an app from its plugins and settings.

    :param registry: the app's plugins, whose settings are declared.
    :param config: the app's configuration.
    """
    secrets: set[str] = set()
    for key, declared in registry.settings.items():
        if declared.setting.secret:
            secrets.update(value for value in _texts(config.get(key)) if len(value) >= _MIN_SECRET_LENGTH)
    plugins: dict[str, str] = {}
    for plugin in registry.plugins:
        module = getattr(plugin.obj, "__name__", "")
        # An installed plugin owns its distribution's top-level package (erlen_mail for erlen_mail.plugin); a
        # local one (myapp.plugins.blog) only its own module, not the app's package around it.
        owned = module.partition(".")[0] if plugin.distribution is not None else module
        if owned:
            plugins.setdefault(owned, plugin.name)
    hook = registry.hook
    fields_hook = hook.erlen_log_fields if registry.implements("erlen_log_fields") else None
    # Longest first: a secret that holds another is hidden whole.
    return LogState(tuple(sorted(secrets, key=len, reverse=True)), plugins, fields_hook)


def _texts(value: t.Any) -> Iterable[str]:
    if isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _texts(item)


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line; see the module's documentation for the fields.

    :param state: what the app's lines need (:func:`log_state`); the current app's, when a record is logged in
        an app context of an app that logs JSON lines, wins.
    """

    def __init__(self, state: LogState | None = None) -> None:
        super().__init__()
        self.state = state or LogState()

    def format(self, record: logging.LogRecord) -> str:
        """The JSON line of ``record``, its secrets redacted.

        :param record: the log record.
        """
        state = self.state
        in_app = has_app_context()
        if in_app:
            state = current_app.extensions.get(EXTENSION_KEY, state)
        secrets = state.secrets
        line: dict[str, t.Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage(), secrets),
        }
        current_id = request_id()
        if current_id is not None:
            line["request_id"] = current_id
        if in_app and state.fields_hook is not None and not _in_fields_hook.get():
            line.update(redact_fields(self._plugin_fields(state), secrets))
        plugin = record.__dict__.get("plugin") or _owner(record.name, state.plugins)
        if plugin:
            line["plugin"] = plugin
        for name, value in record.__dict__.items():
            if name not in _RECORD_FIELDS and name != "plugin":
                line[name] = MASK if is_secret_name(name) and value not in (None, "") else redact_value(value, secrets)
        if record.exc_info:
            line["exception"] = redact_text(self.formatException(record.exc_info), secrets)
        elif record.exc_text:
            line["exception"] = redact_text(record.exc_text, secrets)
        if record.stack_info:
            line["stack"] = redact_text(self.formatStack(record.stack_info), secrets)
        return json.dumps(line, default=str, ensure_ascii=False)

    @staticmethod
    def _plugin_fields(state: LogState) -> dict[str, t.Any]:
        assert state.fields_hook is not None
        token = _in_fields_hook.set(True)
        try:
            results = state.fields_hook()
        except Exception as exc:  # a log line is never lost to a plugin's bug
            return {"log_fields_error": f"{type(exc).__name__} in erlen_log_fields"}
        finally:
            _in_fields_hook.reset(token)
        fields: dict[str, t.Any] = {}
        for result in results:
            fields.update(result or {})
        return fields


def _owner(logger: str, plugins: Mapping[str, str]) -> str | None:
    """The plugin owning the module ``logger`` is named after: the longest dotted prefix in ``plugins``."""
    name = logger
    while name:
        owner = plugins.get(name)
        if owner is not None:
            return owner
        name = name.rpartition(".")[0]
    return None


class StderrHandler(logging.StreamHandler[t.Any]):
    """Writes to whatever ``sys.stderr`` is when a record is logged (a test's capture, say), not at creation."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> t.Any:
        """The current standard error."""
        return sys.stderr


def configure_logging(app: Flask, registry: PluginRegistry) -> None:
    """Set up logging from ``app``'s settings: with ``LOG_FORMAT = "json"``, JSON lines on standard error.

    The root logger gets one :class:`StderrHandler` with a :class:`JsonFormatter` (replacing the one an
    app configured before in this process) and the level ``LOG_LEVEL``; Flask's default handler leaves
    the app's logger, whose lines would otherwise be written twice. With ``"text"``, nothing changes.

    :param app: the app, its settings loaded.
    :param registry: its plugins.
    """
    if app.config.get("LOG_FORMAT") != "json":
        return
    state = log_state(registry, app.config)
    app.extensions[EXTENSION_KEY] = state
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StderrHandler):
            root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter(state))
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    app.logger.removeHandler(default_handler)
