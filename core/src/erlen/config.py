"""Reading an app's configuration and remembering where each value came from.

Configuration comes from one of a mapping, a TOML file, a Python file or an
object (a class, a module or its dotted import path), and then from
environment variables prefixed ``ERLEN_``, which win. Keys are upper case as
in Flask. In TOML, top-level tables are plugin sections: ``url`` in ``[db]``
is the key ``DB_URL``.
"""

from __future__ import annotations

import json
import os
import typing as t
from collections.abc import Mapping
from pathlib import Path

from flask import Config
from werkzeug.utils import ImportStringError, import_string

from .errors import ConfigError

#: The prefix of environment variables read into the configuration.
ENV_PREFIX = "ERLEN_"

#: Environment variables with the prefix that steer tools, not the app.
NOT_CONFIG_VARIABLES = frozenset({"ERLEN_APP", "ERLEN_TRACE_HOOKS"})

ConfigInput = Mapping[str, t.Any] | str | os.PathLike[str] | object | None


class ConfigSources:
    """Where each configuration key got its value.

    Used in error messages (``from environment variable ERLEN_DB_URL``) and
    by ``erlen plugins`` to explain the effective configuration.
    """

    def __init__(self) -> None:
        self._sources: dict[str, str] = {}

    def record(self, key: str, source: str) -> None:
        """Remember that ``key`` was last set by ``source``."""
        self._sources[key] = source

    def get(self, key: str, default: str = "app.config") -> str:
        """The source of ``key``; ``default`` for keys set some other way."""
        return self._sources.get(key, default)

    def from_environment(self, key: str) -> bool:
        """Whether the value of ``key`` is still the raw environment string."""
        return self.get(key).startswith("environment variable")


def load_config(config: Config, source: ConfigInput, sources: ConfigSources) -> None:
    """Load ``source`` into ``config``.

    :param config: the app's config; relative file names are resolved
        against its ``root_path``.
    :param source: a mapping, a ``.toml`` or ``.py`` file name, an object,
        or the dotted import path of an object.
    :param sources: records where each key came from.
    :raises ConfigError: naming the file or object and what is wrong.
    """
    if source is None:
        return
    if isinstance(source, Mapping):
        lower = sorted(str(key) for key in source if not str(key).isupper())
        if lower:
            raise ConfigError(
                f"Config keys must be upper case, as Flask reads only those: {', '.join(map(repr, lower))} in the "
                f"config mapping would be ignored. Write {', '.join(repr(k.upper()) for k in lower)}."
            )
        _update(config, source, "the config mapping passed to create_app", sources)
        return
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if text.endswith((".toml", ".py", ".cfg")) or os.sep in text or isinstance(source, os.PathLike):
            _load_file(config, Path(config.root_path, text), sources)
            return
        try:
            source = import_string(text)
        except ImportStringError as exc:
            raise ConfigError(
                f"Cannot import the config object {text!r}: {exc.exception}. "
                "Pass a mapping, a .toml or .py file name, or the dotted path of an object."
            ) from exc
    name = getattr(source, "__qualname__", None) or getattr(source, "__name__", None) or type(source).__name__
    values = {key: getattr(source, key) for key in dir(source) if key.isupper()}
    _update(config, values, f"object {name}", sources)


def _load_file(config: Config, path: Path, sources: ConfigSources) -> None:
    if not path.is_file():
        raise ConfigError(
            f"Config file {str(path)!r} does not exist. Relative names are resolved against "
            f"the app's root path {config.root_path!r}."
        )
    if path.suffix == ".toml":
        import tomllib

        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"Config file {str(path)!r} is not valid TOML: {exc}.") from exc
        for key, value in data.items():
            if isinstance(value, dict):
                for inner, inner_value in value.items():
                    full = f"{_toml_key(key)}_{_toml_key(inner)}"
                    config[full] = inner_value
                    sources.record(full, f"{path.name} [{key}] {inner}")
            else:
                config[_toml_key(key)] = value
                sources.record(_toml_key(key), f"{path.name} {key}")
        return
    scratch = Config(config.root_path)
    try:
        scratch.from_pyfile(str(path))
    except Exception as exc:
        raise ConfigError(f"Config file {str(path)!r} failed to run: {type(exc).__name__}: {exc}") from exc
    _update(config, scratch, path.name, sources)


def _toml_key(name: str) -> str:
    """``pool-size`` and ``pool_size`` in TOML are both the key ``POOL_SIZE``."""
    return name.upper().replace("-", "_")


def _update(config: Config, values: Mapping[str, t.Any], source: str, sources: ConfigSources) -> None:
    for key, value in values.items():
        if key.isupper():
            config[key] = value
            sources.record(key, source)


def load_environment(config: Config, environ: Mapping[str, str], sources: ConfigSources) -> None:
    """Load ``ERLEN_*`` variables into ``config`` as raw strings.

    They are converted once the declared settings are known: a declared
    setting is parsed by its type (see :func:`erlen.settings.convert`), any
    other key as JSON when it parses and as a string otherwise, as Flask's
    ``from_prefixed_env`` does.
    """
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in NOT_CONFIG_VARIABLES:
            key = name[len(ENV_PREFIX) :]
            if key:
                config[key] = environ[name]
                sources.record(key, f"environment variable {name}")


def decode_undeclared(text: str) -> object:
    """Decode the environment string of a key no plugin declares."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
