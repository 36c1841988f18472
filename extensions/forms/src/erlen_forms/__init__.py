"""erlen-forms: WTForms bound to the request, app-wide CSRF protection, accessible rendering,
forms that plugins extend, model forms and uploads, as the Erlen plugin ``forms``."""

from __future__ import annotations

import typing as t

import erlen

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
from .errors import FormDefinitionError, FormExtensionError
from .sensitive import is_sensitive

__version__ = "0.1.0"

if t.TYPE_CHECKING:
    from .extension import FormExtension, extended_class
    from .form import UNREADABLE_JSON, Form, flatten_json, read_json_body, request_formdata
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

# Imported on first use: model_forms needs SQLAlchemy (``erlen-forms[models]``), and only forms with file fields
# need uploads, while every process imports this package; WTForms (form, extension) is imported by the first
# form class, not by `erlen --help`, which creates the app (see erlen.defer_setup).
__getattr__ = erlen.lazy_exports(
    __name__,
    {
        **dict.fromkeys(("FormExtension", "extended_class"), "erlen_forms.extension"),
        **dict.fromkeys(
            ("Form", "UNREADABLE_JSON", "flatten_json", "read_json_body", "request_formdata"), "erlen_forms.form"
        ),
        **dict.fromkeys(
            (
                "ModelForm",
                "ModelFormError",
                "ModelSelectField",
                "Unique",
                "UTCDateTimeField",
                "label_column",
                "model_form",
            ),
            "erlen_forms.model_forms",
        ),
        **dict.fromkeys(
            ("FileAllowed", "FileField", "FileRequired", "FileSize", "MultipleFileField"), "erlen_forms.uploads"
        ),
    },
)


__all__ = [
    # forms
    "Form",
    "UNREADABLE_JSON",
    "read_json_body",
    "request_formdata",
    "flatten_json",
    # extending forms
    "FormExtension",
    "FormDefinitionError",
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
