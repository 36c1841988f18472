"""The profile form, and the field this plugin adds to the ``auth`` plugin's registration form."""

from __future__ import annotations

from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

import erlen_forms


def display_name_field() -> StringField:
    """The display name field, as added to ``auth.register`` and used by :class:`ProfileForm`."""
    return StringField(
        "Display name",
        [DataRequired(), Length(max=80)],
        description="Shown next to what you write.",
    )


class ProfileForm(erlen_forms.Form):
    """Edit a profile; other plugins extend it through ``erlen_forms_extend`` with ``profiles.edit``."""

    form_id = "profiles.edit"
    display_name = display_name_field()
    bio = TextAreaField("About you", [Length(max=2000)])


#: The extension of the ``auth`` plugin's registration form.
REGISTRATION_EXTENSION = erlen_forms.FormExtension(fields={"display_name": display_name_field()})
