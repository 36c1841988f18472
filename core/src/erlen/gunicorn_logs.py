"""gunicorn's own log lines as the app's JSON lines: :func:`gunicorn_logconfig` for ``gunicorn.conf.py``.

With ``LOG_FORMAT = "json"`` the app writes JSON lines (:mod:`erlen.logs`), but gunicorn configures its
``gunicorn.error`` logger (the arbiter's and workers' messages) and its ``gunicorn.access`` logger (one line
per request) itself, in its text format. In ``gunicorn.conf.py``::

    import erlen

    logconfig_dict = erlen.gunicorn_logconfig()

makes both write JSON lines on standard error, as the app does: ``gunicorn.error``'s records go to the root
logger, whose handler the app replaces with its own once a worker has built it (so they are redacted with
the app's secrets from then on); ``gunicorn.access``'s lines carry the request's fields (method, path,
status, duration...) and its ``request_id``, the one the app gave the request (:mod:`erlen.request_ids`).
gunicorn's ``--log-level`` still sets ``gunicorn.error``'s level; ``access_log_format`` still makes the
access line's ``message``. No gunicorn import here: the dictionary names the classes by their dotted path.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import Mapping

from .logs import JsonFormatter
from .redaction import redact_value
from .request_ids import ENVIRON_KEY

#: gunicorn's atoms (see its ``access_log_format``) written as fields of an access line, by field name.
_ACCESS_FIELDS = {
    "remote_addr": "h",
    "method": "m",
    "path": "U",
    "query": "q",
    "protocol": "H",
    "status": "s",
    "response_bytes": "B",
    "referrer": "f",
    "user_agent": "a",
}


class GunicornAccessFormatter(JsonFormatter):
    """A JSON line per ``gunicorn.access`` record: the fields of :class:`~erlen.logs.JsonFormatter` and the
    request's, from the atoms gunicorn passes as the record's arguments.

    The fields are ``remote_addr``, ``method``, ``path``, ``query``, ``protocol``, ``status`` (a number),
    ``response_bytes``, ``referrer``, ``user_agent`` (absent when gunicorn has none), ``duration`` (seconds)
    and ``request_id``, the id the app gave the request (absent when request ids are off).

    :param state: as :class:`~erlen.logs.JsonFormatter` takes it.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The JSON line of ``record``: with the request's fields when it is gunicorn's access record.

        :param record: the log record.
        """
        atoms = record.args
        if isinstance(atoms, Mapping):
            # Fields go into the record as ``extra`` would (JsonFormatter writes those and redacts them).
            for name, value in self._request_fields(atoms).items():
                record.__dict__.setdefault(name, value)
        return super().format(record)

    @staticmethod
    def _request_fields(atoms: Mapping[str, t.Any]) -> dict[str, t.Any]:
        fields: dict[str, t.Any] = {}
        for name, atom in _ACCESS_FIELDS.items():
            value = atoms.get(atom)
            if value is None or value == "-" or value == "":
                continue
            if isinstance(value, str):
                # gunicorn escapes double quotes for its text line; a JSON string escapes them itself.
                value = value.replace('\\"', '"')
            fields[name] = value
        if isinstance(fields.get("status"), str) and fields["status"].isdigit():
            fields["status"] = int(fields["status"])
        microseconds = atoms.get("D")
        if isinstance(microseconds, int):
            fields["duration"] = microseconds / 1_000_000
        # gunicorn names the WSGI environ's entries {key}e, lower-cased.
        request_id = atoms.get("{" + ENVIRON_KEY.lower() + "}e")
        if isinstance(request_id, str) and request_id != "-":
            fields["request_id"] = request_id
        return {name: redact_value(value) for name, value in fields.items()}


def gunicorn_logconfig(level: str = "INFO") -> dict[str, t.Any]:
    """gunicorn's ``logconfig_dict`` writing its error and access logs as JSON lines on standard error.

    See the module's documentation. The root logger gets the handler the app uses (an app that logs JSON
    lines replaces it with its own, at :setting:`LOG_LEVEL`), ``gunicorn.error`` writes through it, and
    ``gunicorn.access`` through a handler of its own with :class:`GunicornAccessFormatter`.

    :param level: the root logger's level until a worker has built the app (the arbiter's lines).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "erlen_json": {"()": "erlen.logs.JsonFormatter"},
            "erlen_gunicorn_access": {"()": "erlen.gunicorn_logs.GunicornAccessFormatter"},
        },
        "handlers": {
            "erlen_json": {"class": "erlen.logs.StderrHandler", "formatter": "erlen_json"},
            "erlen_gunicorn_access": {"class": "erlen.logs.StderrHandler", "formatter": "erlen_gunicorn_access"},
        },
        "root": {"level": level, "handlers": ["erlen_json"]},
        "loggers": {
            # No level: gunicorn's --log-level sets it.
            "gunicorn.error": {"handlers": [], "propagate": True},
            # Not through the root: its records need the access formatter.
            "gunicorn.access": {"level": "INFO", "handlers": ["erlen_gunicorn_access"], "propagate": False},
        },
    }
