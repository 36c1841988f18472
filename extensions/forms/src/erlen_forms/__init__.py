"""erlen-forms: WTForms bound to the request, app-wide CSRF protection, accessible rendering,
forms that plugins extend, model forms and uploads, as the Erlen plugin ``forms``."""

from __future__ import annotations

import typing as t

from .csrf import (
    CSRFError,
    Exemption,
    check_csrf,
    csrf_exempt,
    csrf_exempt_blueprint,
    csrf_field,
    csrf_token,
    exemptions,
    reset_csrf_secret,
    wants_json,
)
from .errors import FormExtensionError
from .extension import FormExtension, extended_class
from .form import Form, flatten_json, request_formdata
from .sensitive import is_sensitive

__version__ = "0.1.0"

if t.TYPE_CHECKING:
    from .model_forms import (
        ModelForm,
        ModelFormError,
        ModelSelectField,
        Unique,
        UTCDateTimeField,
        label_column,
        model_form,
    )
    from .uploads import FileAllowed, FileField, FileRequired, FileSize, MultipleFileField

#: Names of the module model_forms, imported on first use: it needs SQLAlchemy (``erlen-forms[models]``).
_MODEL_FORM_NAMES = frozenset(
    {
        "ModelForm",
        "ModelFormError",
        "ModelSelectField",
        "Unique",
        "UTCDateTimeField",
        "label_column",
        "model_form",
    }
)


#: Names of the module uploads, imported on first use: only forms with file fields need it, and every process
#: imports this package.
_UPLOAD_NAMES = frozenset({"FileAllowed", "FileField", "FileRequired", "FileSize", "MultipleFileField"})


def __getattr__(name: str) -> t.Any:
    if name in _UPLOAD_NAMES:
        from . import uploads

        return getattr(uploads, name)
    if name in _MODEL_FORM_NAMES:
        from . import model_forms

        return getattr(model_forms, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "check_csrf",
    "csrf_exempt",
    "csrf_exempt_blueprint",
    "csrf_field",
    "csrf_token",
    "exemptions",
    "reset_csrf_secret",
    "wants_json",
    # uploads
    "FileAllowed",
    "FileField",
    "FileRequired",
    "FileSize",
    "MultipleFileField",
    # model forms (erlen-forms[models])
    "ModelForm",
    "ModelFormError",
    "ModelSelectField",
    "Unique",
    "UTCDateTimeField",
    "is_sensitive",
    "label_column",
    "model_form",
]
