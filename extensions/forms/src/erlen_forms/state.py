"""The per-app state of the forms plugin, kept in ``app.extensions["forms"]``."""

from __future__ import annotations

import threading
import typing as t
from dataclasses import dataclass, field

from flask import Flask
from itsdangerous import URLSafeTimedSerializer

import erlen

if t.TYPE_CHECKING:
    from .csrf import Exemption

#: The key of ``app.extensions`` holding the :class:`FormsState`.
EXTENSION_KEY = "forms"


@dataclass
class FormsState:
    """What the forms plugin keeps per app.

    :param form_classes: each form class, mapped to the class extended by
        the plugins' ``erlen_forms_extend`` hooks, built once per app.
    :param exemption_cache: the CSRF exemption of each endpoint, computed
        on first use.
    :param hook_exemptions: endpoints and blueprints that plugins exempted
        through ``erlen_forms_csrf_exempt``: name to ``(plugin, reason)``.
    :param csrf_serializer: the keys (``SECRET_KEY`` and its fallbacks) and the serializer of CSRF tokens
        made for them, kept while they stay the same.
    :param csrf_derived_keys: the signing keys derived from them, each derived once.
    """

    form_classes: dict[type, type] = field(default_factory=dict)
    exemption_cache: dict[str, Exemption | None] = field(default_factory=dict)
    hook_exemptions: dict[str, tuple[str, str]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    csrf_serializer: tuple[tuple[t.Any, ...], URLSafeTimedSerializer] | None = None
    csrf_derived_keys: dict[tuple[t.Any, bytes], bytes] = field(default_factory=dict)


def state_of(app: Flask | None = None) -> FormsState:
    """The forms state of ``app`` (or of the current app).

    :raises erlen.PluginNotEnabledError: the forms plugin is not enabled on the app.
    """
    return t.cast(FormsState, erlen.extension_state(EXTENSION_KEY, app))
