"""The note form; its ``form_id`` lets other plugins extend it."""

from __future__ import annotations

from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

import erlen_forms

#: PostgreSQL cannot store the NUL character: text holding one is a field error, not a database error (a 500).
NO_NUL = Regexp(r"[^\x00]*\Z", message="The text holds a character that is not allowed.")


class NoteForm(erlen_forms.Form):
    """Write a note."""

    form_id = "notes.note"
    title = StringField("Title", [DataRequired(), Length(max=200), NO_NUL])
    body = TextAreaField("Note", [Length(max=20_000), NO_NUL], description="Plain text.")
