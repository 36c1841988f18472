"""Typed settings that plugins declare, with defaults and documentation.

A plugin declares its settings through the ``erlen_settings`` hook. Each
setting's configuration key is the plugin's prefix (its name in upper case,
``DB_`` for ``db``) followed by the setting's name, so ``Setting("URL")`` of
the ``db`` plugin is read from ``app.config["DB_URL"]``, from ``url`` in the
``[db]`` table of a TOML file, or from the environment variable
``ERLEN_DB_URL``.
"""

from __future__ import annotations

import json
import math
import re
import sys
import types
import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SettingError

#: What a setting's name may be: what an ``ERLEN_*`` environment variable's name and a bare key of erlen.toml hold.
_SETTING_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Marks a setting without a default: the app must configure it.
REQUIRED: t.Any = _Required()

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class Setting:
    """A setting a plugin declares.

    :param name: the name within the plugin, in upper case (``URL``). The
        configuration key is the plugin's prefix plus this name.
    :param type: the expected type: ``str``, ``int``, ``float``, ``bool``,
        ``pathlib.Path``, ``list[X]``, ``tuple[X, ...]``, ``dict[str, X]``,
        ``typing.Literal[...]``, ``typing.Any``, or any of these ``| None``.
    :param default: the value used when the app does not configure one;
        :data:`REQUIRED` (the default) makes the setting mandatory.
    :param help: one or two sentences of plain text for the settings
        reference; error messages about the setting quote it.
    :param secret: the value is never shown in output or error messages.
    :param validate: an optional callable that receives the converted value
        and raises :class:`ValueError` when it is not acceptable. Its message
        completes the sentence "... has the invalid value X (from SOURCE):
        it ...", so word it like ``"must be at least 1"``.
    """

    name: str
    type: t.Any = str
    default: t.Any = REQUIRED
    help: str = ""
    secret: bool = False
    validate: Callable[[t.Any], object] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not _SETTING_NAME.fullmatch(self.name):
            # A name erlen.toml's bare keys and ERLEN_* variables can reach: upper case, words joined by underscores
            # ('max proposals' -> 'MAX_PROPOSALS'; 'MAX PROPOSALS' or 'MAX-PROPOSALS' no shell variable can set).
            suggestion = re.sub(r"[^A-Z0-9]+", "_", self.name.upper()).strip("_") or "URL"
            if suggestion[0].isdigit():
                suggestion = f"X_{suggestion}"
            raise ValueError(
                f"Setting name {self.name!r} must be upper-case letters, digits and underscores, starting with a "
                f"letter, such as {suggestion!r}: erlen.toml's keys and ERLEN_* environment variables set it."
            )
        # Refused here, where the plugin declares it, rather than with a bare
        # TypeError once some app configures a value.
        if not supported_type(self.type):
            raise TypeError(
                f"Setting {self.name} has the unsupported type {describe_type(self.type)}. Use str, int, float, "
                "bool, pathlib.Path, list[X], tuple[X, ...], dict[str, X], typing.Literal[...], typing.Any, "
                "a class, or any of these | None."
            )

    @property
    def required(self) -> bool:
        """Whether the app must configure this setting."""
        return self.default is REQUIRED

    @property
    def type_name(self) -> str:
        """The expected type as it is shown to users, such as ``list[str]``."""
        return describe_type(self.type)


@dataclass(frozen=True)
class DeclaredSetting:
    """A :class:`Setting` bound to the plugin that declared it.

    :param setting: the declaration.
    :param plugin: the declaring plugin's name.
    :param key: the full configuration key.
    """

    setting: Setting
    plugin: str
    key: str

    def display(self, value: object) -> str:
        """Render ``value`` for output, hiding it when the setting is secret."""
        return redact(value) if self.setting.secret else repr(value)


def _finite(value: float) -> bool:
    """Whether ``value`` is neither NaN nor infinite: an int always is (and one beyond a float's range would make
    :func:`math.isfinite` raise ``OverflowError``).

    :param value: a setting's number.
    """
    return isinstance(value, int) or math.isfinite(value)


def at_least(low: float) -> Callable[[float | None], None]:
    """A ``validate`` for :class:`Setting` refusing numbers below ``low`` ("must be at least ``low``").

    ``None`` (a setting declared ``int | None`` left unset) is accepted; NaN and the infinities (which a
    ``float`` setting reads from ``"nan"`` or ``"inf"``) are not.

    :param low: the smallest value allowed.
    """

    def check(value: float | None) -> None:
        if value is None:
            return
        if not _finite(value):
            raise ValueError(f"must be a finite number of at least {low}")
        if value < low:
            raise ValueError(f"must be at least {low}")

    return check


def greater_than(low: float) -> Callable[[float | None], None]:
    """A ``validate`` for :class:`Setting` refusing ``low`` and numbers below it ("must be greater than ``low``").

    The strict counterpart of :func:`at_least`: ``greater_than(0)`` for a
    count, size or number of seconds that must be positive. ``None`` (a setting
    declared ``int | None`` left unset) is accepted; NaN and the infinities are not.

    :param low: the largest value refused.
    """

    def check(value: float | None) -> None:
        if value is None:
            return
        if not _finite(value):
            raise ValueError(f"must be a finite number greater than {low}")
        if value <= low:
            raise ValueError(f"must be greater than {low}")

    return check


def redact(value: object) -> str:
    """Hide a secret value, telling only whether it is set."""
    return "'********'" if value not in (None, "") else repr(value)


def describe_type(tp: t.Any) -> str:
    """Describe a type annotation the way users write it."""
    if tp is t.Any:
        return "any"
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and not t.get_args(tp):
        return tp.__name__
    origin = t.get_origin(tp)
    args = t.get_args(tp)
    if origin is t.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (t.Union, types.UnionType):
        return " | ".join(describe_type(a) for a in args)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else describe_type(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return str(tp)


def supported_type(tp: t.Any) -> bool:
    """Whether :func:`convert` can check values of the type ``tp``."""
    if tp is t.Any:
        return True
    origin = t.get_origin(tp)
    args = t.get_args(tp)
    if origin is t.Literal:
        return True
    if origin in (t.Union, types.UnionType, list, tuple, dict):
        return all(arg is Ellipsis or supported_type(arg) for arg in args)
    return origin is None and isinstance(tp, type)


def convert(tp: t.Any, value: object, *, from_text: bool) -> object:
    """Check ``value`` against ``tp`` and convert it where that is lossless.

    :param tp: the declared type.
    :param value: the configured value.
    :param from_text: the value came from an environment variable, so a
        string may be parsed (``"8"`` as ``8``, ``"a,b"`` or ``'["a"]'`` as a
        list, ``"yes"`` as ``True``).
    :raises ValueError: with the reason the value does not fit.
    """
    if tp is t.Any:
        return value
    origin = t.get_origin(tp)
    args = t.get_args(tp)
    if origin in (t.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if from_text and value == "" and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return convert(option, value, from_text=from_text)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError("; ".join(errors))
    if origin is t.Literal:
        for choice in args:
            # 1 == True in Python, but a boolean is no answer to Literal[0, 1] (nor 1 to Literal[True]).
            if value == choice and isinstance(value, bool) == isinstance(choice, bool):
                return choice
            if from_text and isinstance(value, str) and not isinstance(choice, str):
                # An environment variable is text: "2" stands for the choice 2.
                try:
                    if convert(type(choice), value, from_text=True) == choice:
                        return choice
                except ValueError:
                    pass
        raise ValueError(f"must be one of {', '.join(repr(a) for a in args)}")
    if origin in (list, tuple):
        if from_text and isinstance(value, str):
            value = _split_list(value)
        if not isinstance(value, (list, tuple)):
            raise ValueError("must be a list")
        item_type = args[0] if args else t.Any
        items = [convert(item_type, item, from_text=from_text) for item in value]
        return items if origin is list else tuple(items)
    if origin is dict:
        if from_text and isinstance(value, str):
            value = _parse_json(value)
        if not isinstance(value, Mapping):
            raise ValueError("must be a table (a dict)")
        value_type = args[1] if len(args) == 2 else t.Any
        return {str(k): convert(value_type, v, from_text=from_text) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return value.strip().lower() in _TRUE_WORDS
        raise ValueError("must be true or false")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ValueError(f"must be {'an integer' if tp is int else 'a number'}, not a boolean")
        if tp is float and isinstance(value, int):
            try:
                return float(value)
            except OverflowError:  # an int of hundreds of digits: a bare traceback otherwise
                raise ValueError(
                    f"must be a number within a float's range (up to about {sys.float_info.max:.1e})"
                ) from None
        if isinstance(value, tp):
            return value
        if from_text and isinstance(value, str):
            try:
                return tp(value.strip())
            except ValueError:
                pass
        raise ValueError(f"must be {'an integer' if tp is int else 'a number'}")
    if tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise ValueError("must be a path")
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise ValueError(f"must be of type {describe_type(tp)}")
    raise TypeError(f"unsupported setting type {tp!r}")


def _split_list(text: str) -> object:
    text = text.strip()
    if text.startswith("["):
        return _parse_json(text)
    return [part.strip() for part in text.split(",") if part.strip()]


def _parse_json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not valid JSON ({exc.msg} at position {exc.pos})") from None


def validate_value(declared: DeclaredSetting, value: object, *, source: str) -> object:
    """Convert and validate one configured value of a declared setting.

    :param declared: the setting and its plugin.
    :param value: the configured value.
    :param source: where the value came from, for the error message.
    :raises SettingError: naming the key, value, expected type, plugin and
        source.
    """
    setting = declared.setting
    from_text = source.startswith("environment variable")
    try:
        converted = convert(setting.type, value, from_text=from_text)
        if setting.validate is not None:
            setting.validate(converted)
    except ValueError as exc:
        raise SettingError(
            f"Setting {declared.key} of plugin {declared.plugin!r} has the invalid value "
            f"{declared.display(value)} (from {source}): it {exc}. "
            f"Expected type: {setting.type_name}." + (f" {setting.help}" if setting.help else ""),
            key=declared.key,
            plugin=declared.plugin,
        ) from None
    return converted
