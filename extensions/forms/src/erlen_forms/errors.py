"""Errors of the forms plugin."""

from __future__ import annotations

import erlen


class FormExtensionError(erlen.ErlenError):
    """A plugin's ``erlen_forms_extend`` hook returned an extension that cannot be applied."""


class FormDefinitionError(erlen.ErlenError):
    """A form class cannot work on this app: one of its fields takes the name of the CSRF token's input."""
