"""The note form; its ``form_id`` lets other plugins extend it."""

from __future__ import annotations

from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

import erlen_forms


class NoteForm(erlen_forms.Form):
    """Write a note."""

    form_id = "notes.note"
    title = StringField("Title", [DataRequired(), Length(max=200)])
    body = TextAreaField("Note", [Length(max=20_000)], description="Plain text.")
