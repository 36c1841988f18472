"""erlen-forms: WTForms bound to the request, app-wide CSRF protection, accessible rendering,
forms that plugins extend, model forms and uploads, as the Erlen plugin ``forms``."""

from __future__ import annotations

from .csrf import (
    CSRFError,
    Exemption,
    csrf_exempt,
    csrf_exempt_blueprint,
    csrf_field,
    csrf_token,
    exemptions,
    reset_csrf_secret,
)
from .errors import FormExtensionError
from .extension import FormExtension, extended_class
from .form import Form, flatten_json, request_formdata
from .uploads import FileAllowed, FileField, FileRequired, FileSize, MultipleFileField

__version__ = "0.1.0"

__all__ = [
    # forms
    "Form",
    "request_formdata",
    "flatten_json",
    # extending forms
    "FormExtension",
    "FormExtensionError",
    "extended_class",
    # CSRF
    "CSRFError",
    "Exemption",
    "csrf_exempt",
    "csrf_exempt_blueprint",
    "csrf_field",
    "csrf_token",
    "exemptions",
    "reset_csrf_secret",
    # uploads
    "FileAllowed",
    "FileField",
    "FileRequired",
    "FileSize",
    "MultipleFileField",
]
