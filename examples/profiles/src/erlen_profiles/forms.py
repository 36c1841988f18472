"""The profile form, and the field this plugin adds to the ``auth`` plugin's registration form."""

from __future__ import annotations

import typing as t

from wtforms import StringField, TextAreaField
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, Length, Regexp

import erlen_forms

#: PostgreSQL cannot store the NUL character: text holding one is a field error, not a database error (a 500).
NO_NUL = Regexp(r"[^\x00]*\Z", message="The text holds a character that is not allowed.")


def display_name_field() -> StringField:
    """The display name field, as added to ``auth.register`` and used by :class:`ProfileForm`."""
    return StringField(
        "Display name",
        [DataRequired(), Length(max=80), NO_NUL],
        description="Shown next to what you write.",
    )


class ProfileForm(erlen_forms.Form):
    """Edit a profile; other plugins extend it through ``erlen_forms_extend`` with ``profiles.edit``."""

    form_id = "profiles.edit"
    display_name = display_name_field()
    bio = TextAreaField("About you", [Length(max=2000), NO_NUL])


#: The extension of the ``auth`` plugin's registration form. Outside a form class a field is unbound
#: (``Field.__new__`` returns an ``UnboundField``), which wtforms' type stubs cannot say.
REGISTRATION_EXTENSION = erlen_forms.FormExtension(
    fields={"display_name": t.cast("UnboundField[StringField]", display_name_field())}
)
