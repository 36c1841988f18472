"""Forms built from SQLAlchemy models (needs ``erlen-forms[models]``, which brings erlen-db).

:func:`model_form` turns a mapped class into a form class:

* column types to fields: strings to text inputs (with a length validator
  for ``String(n)``), ``Text`` to text areas, integers, numerics, floats,
  booleans, dates, times, date-times, UUIDs, and enums to selects;
* nullability to required or optional: a ``NOT NULL`` column without a
  default is required;
* unique columns to :class:`Unique`, which checks the database
  (and :meth:`ModelForm.save` turns a value taken meanwhile into a field error);
* ``DateTime(timezone=True)`` columns to :class:`UTCDateTimeField`, in UTC;
* foreign keys to :class:`ModelSelectField`: a select of the related rows
  while there are at most ``FORMS_FK_SELECT_LIMIT`` of them, otherwise a
  search-as-you-type input backed by the endpoint ``erlen_forms.fk_search``;
  the related table is never loaded whole.

.. code-block:: python

    PostForm = erlen_forms.model_form(Post, exclude=["created_at"], form_id="blog.post")

    form = PostForm(obj=post)
    if form.validate_on_submit() and form.save() is not None:
        return redirect(url_for("show_post", id=post.id))
"""

from __future__ import annotations

import datetime
import decimal
import enum
import math
import typing as t
import uuid
from collections.abc import Callable, Iterable, Mapping

import sqlalchemy as sa
import wtforms
import wtforms.fields.choices
import wtforms.form
from flask import current_app, has_app_context, url_for
from markupsafe import Markup
from sqlalchemy import types as satypes
from sqlalchemy.orm import Mapper
from wtforms import validators as v
from wtforms.widgets import html_params

from .form import FROM_REQUEST, Form
from .sensitive import SENSITIVE_WORDS, is_sensitive  # noqa: F401  (SENSITIVE_WORDS: kept importable from here)

#: Names of columns that make good labels for related rows, in order of preference.
LABEL_NAMES = ("name", "title", "label", "username", "display_name", "email", "slug", "code")
#: The zone of the date-times that ``DateTime(timezone=True)`` columns show and take in forms.
UTC = datetime.UTC


class ModelFormError(TypeError):
    """A model cannot be turned into a form as asked (an unsupported column type, an unknown field name)."""


def _session() -> sa.orm.Session:
    import erlen_db

    return erlen_db.get_session()


def _python_type(column: sa.ColumnElement[t.Any]) -> type | None:
    # Imported here: erlen-forms installs without erlen-db, which only model forms need.
    from erlen_db import python_type_of

    return python_type_of(column)


def _coerce(column: sa.ColumnElement[t.Any], raw: object) -> object:
    """Convert a submitted string to the Python type of ``column``; ``ValueError`` when it does not fit."""
    if raw is None or raw == "":
        return None
    kind = _python_type(column)
    if kind is None or isinstance(raw, kind):
        return raw
    text = str(raw).strip()
    if kind is bool:
        raise ValueError("not a key")
    if kind is uuid.UUID:
        return uuid.UUID(text)
    if kind in (int, float, decimal.Decimal, str):
        try:
            value = kind(text)
        except (ArithmeticError, ValueError):
            raise ValueError("not a valid value") from None
        if isinstance(value, int):
            low, high = int_bounds(column.type)
            if not low <= value <= high:
                raise ValueError("out of range")
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("not a valid value")
        return value
    raise ValueError("not a valid value")


def int_bounds(column_type: satypes.TypeEngine[t.Any]) -> tuple[int, int]:
    """The smallest and largest integers that ``column_type`` stores on every supported database."""
    if isinstance(column_type, satypes.SmallInteger):
        bits = 16
    elif isinstance(column_type, satypes.BigInteger):
        bits = 64
    else:
        bits = 32
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


class Finite:
    """Reject NaN and infinite numbers, which databases store differently or not at all.

    :param message: the error message.
    """

    def __init__(self, message: str | None = None) -> None:
        self.message = message

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        data = field.data
        if data is None:
            return
        finite = data.is_finite() if isinstance(data, decimal.Decimal) else math.isfinite(data)
        if not finite:
            raise v.StopValidation(self.message or field.gettext("Enter a finite number."))


class DecimalPlaces:
    """Reject numbers with more digits after the point than a ``Numeric(p, s)`` column keeps.

    The database would round them to ``s`` places without a word (``0.001``
    stored as ``0.00``); trailing zeros do not count (``1.50`` fits two places).

    :param places: the column's scale.
    :param message: the error message; ``%(places)s`` is replaced.
    """

    def __init__(self, places: int, message: str | None = None) -> None:
        self.places = places
        self.message = message

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        data = field.data
        if not isinstance(data, decimal.Decimal) or not data.is_finite() or data.is_zero():
            return
        exponent = data.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > self.places:
            message = self.message or field.gettext("Enter a number with at most %(places)s digits after the point.")
            raise v.ValidationError(message % {"places": self.places})


class NoNullCharacter:
    """Reject text holding the NUL character, which PostgreSQL cannot store.

    :param message: the error message.
    """

    def __init__(self, message: str | None = None) -> None:
        self.message = message

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        if isinstance(field.data, str) and "\x00" in field.data:
            raise v.ValidationError(self.message or field.gettext("The text holds a character that is not allowed."))


def label_column(table: sa.Table) -> sa.Column[t.Any]:
    """The column that best names a row of ``table`` to people.

    A string column named like :data:`LABEL_NAMES`, else the first string
    column whose name does not suggest a secret, else the primary key.
    """
    strings = [
        column for column in table.columns if isinstance(column.type, satypes.String) and not is_sensitive(column.name)
    ]
    for name in LABEL_NAMES:
        for column in strings:
            if column.name.lower() == name:
                return column
    if strings:
        return strings[0]
    return next(iter(table.primary_key.columns))


class Unique:
    """Reject a value that another row of the model already has in ``column``.

    The object being edited (passed to the form as ``obj``) may keep its own value.

    :param model: the mapped class.
    :param attribute: the name of the mapped attribute to check.
    :param message: the error message.
    """

    def __init__(self, model: type, attribute: str, message: str | None = None) -> None:
        self.model = model
        self.attribute = attribute
        self.message = message

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        if field.data is None or field.data == "" or field.errors:
            return
        mapper = t.cast(Mapper[t.Any], sa.inspect(self.model))
        keys = list(mapper.primary_key)
        statement = sa.select(*keys).where(getattr(self.model, self.attribute) == field.data).limit(1)
        row = _session().execute(statement).first()
        if row is None:
            return
        editing = getattr(form, "model_obj", None)
        if editing is not None and isinstance(editing, self.model):
            identity = sa.inspect(editing).identity
            if identity is not None and tuple(identity) == tuple(row):
                return
        raise v.ValidationError(self.message or field.gettext("This value is already taken."))


def as_utc(value: datetime.datetime) -> datetime.datetime:
    """``value`` as an aware date-time in UTC; a naive one is taken to be in UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UTCDateTimeField(wtforms.DateTimeLocalField):
    """A date and time shown and entered in UTC: the field of ``DateTime(timezone=True)`` columns.

    An ``<input type="datetime-local">`` carries no time zone. A naive value
    written to a ``timestamptz`` column is read in the database session's
    time zone, so a stored time could shift when a form is saved unchanged.
    This field renders the stored instant converted to UTC and gives the
    submitted value ``tzinfo=UTC``. A naive value (SQLite keeps no zone) is
    taken to be in UTC. The input shows whole seconds: a value submitted as
    it was rendered keeps the stored fraction of a second.

    :param label: the field's label; say "UTC" in it (:func:`model_form` does).
    :param validators: the field's validators.
    :param kwargs: the other arguments of :class:`wtforms.DateTimeLocalField`.
    """

    def _value(self) -> str:
        if self.raw_data:
            return " ".join(self.raw_data)
        if not isinstance(self.data, datetime.datetime):
            return ""
        return as_utc(self.data).replace(tzinfo=None).strftime(self.format[0])

    def process_formdata(self, valuelist: list[t.Any]) -> None:
        super().process_formdata(valuelist)
        if not valuelist or not isinstance(self.data, datetime.datetime):
            return
        entered = self.data.replace(tzinfo=UTC)
        stored = self.object_data
        if isinstance(stored, datetime.datetime) and as_utc(stored).replace(microsecond=0) == entered:
            # Unchanged by the user: keep the microseconds the input could not show.
            entered = as_utc(stored)
        self.data = entered


class ModelSelectField(wtforms.Field):
    """A foreign key: a select of the related rows, or a search input when there are too many.

    The related rows are fetched up to the limit plus one: at most ``limit``
    rows become a ``<select>``; beyond that the field renders a text input
    that suggests rows from the endpoint ``erlen_forms.fk_search`` as the
    user types, and a submitted value is checked with one query.

    :param label: the field's label.
    :param validators: the field's validators.
    :param column: the foreign-key column (``Post.__table__.c.author_id``).
    :param label_column: the column of the related table shown to people;
        :func:`label_column` by default.
    :param limit: the most rows a select lists; ``FORMS_FK_SELECT_LIMIT`` by default.
    :param blank_text: the text of the empty choice of optional fields.
    :param rows: ``rows(statement) -> statement``: narrows the related rows the field offers and accepts (a row
        scope, such as erlen-admin's); see :meth:`restrict_rows`. All rows by default.
    """

    def __init__(
        self,
        label: str | None = None,
        validators: list[t.Any] | None = None,
        *,
        column: sa.Column[t.Any],
        label_column: sa.Column[t.Any] | None = None,
        limit: int | None = None,
        blank_text: str = "",
        rows: Callable[[sa.Select[t.Any]], sa.Select[t.Any]] | None = None,
        **kwargs: t.Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        (foreign_key,) = tuple(column.foreign_keys)
        self.column = column
        self.remote = foreign_key.column
        self.remote_table = self.remote.table
        self.label_column = label_column if label_column is not None else globals()["label_column"](self.remote_table)
        self.limit = limit
        self.blank_text = blank_text
        self.rows = rows
        #: Whether the field's value came from the form's object (``obj=``), which :meth:`restrict_rows` keeps; set
        #: by :class:`erlen_forms.Form` when it processes its data.
        self.from_object = False
        self._rows: list[tuple[t.Any, t.Any]] | None = None
        self._searching: bool | None = None

    # -- which rows ---------------------------------------------------------------------------------------------------

    def restrict_rows(self, rows: Callable[[sa.Select[t.Any]], sa.Select[t.Any]] | None) -> None:
        """Narrow the related rows this field offers and accepts to those ``rows`` keeps.

        ``rows(statement)`` gets a ``SELECT`` of the related table's key (and label) and returns it with
        conditions added (``where``, an ``IN`` or ``EXISTS`` subquery), never other columns, an order or a
        limit: the select's options, the checked value, the chosen row's label and the "no longer exists" check
        all go through it. A submitted key outside it is refused as a key no row has ("Not a valid choice.").
        The value the field was given from its object (``obj=`` of an :class:`erlen_forms.Form`) is kept as a
        choice even outside it, labelled by its bare key, so that saving an edit form does not change a key its
        user may not see; a value given by ``data=``, a keyword or the default is not.

        Call it before the form is validated or rendered (erlen-admin calls it with a model view's row scope).

        :param rows: the narrowing function; ``None`` for every row.
        """
        self.rows = rows
        self._rows, self._searching = None, None

    def _narrowed(self, statement: sa.Select[t.Any]) -> sa.Select[t.Any]:
        """``statement`` narrowed by :attr:`rows`, if set."""
        return statement if self.rows is None else self.rows(statement)

    def _kept(self) -> t.Any:
        """The value from the field's object, offered even outside :attr:`rows`; ``None`` without a narrowing, and
        for a value given otherwise (``data=``, a keyword, the default), which the user may change as they like."""
        if self.rows is None or not self.from_object:
            return None
        return self.object_data

    # -- data -----------------------------------------------------------------------------------------------------

    def process_formdata(self, valuelist: list[t.Any]) -> None:
        if not valuelist:
            return
        try:
            self.data = _coerce(self.remote, valuelist[0])
        except (ValueError, TypeError):
            self.data = None
            raise ValueError(self.gettext("Not a valid choice.")) from None

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)

    def _limit(self) -> int:
        if self.limit is not None:
            return self.limit
        if has_app_context():
            return int(current_app.config.get("FORMS_FK_SELECT_LIMIT", 100))
        return 100

    def load(self) -> None:
        """Fetch the related rows, at most the limit plus one; more than the limit switches to searching."""
        if self._searching is not None:
            return
        limit = self._limit()
        statement = self._narrowed(sa.select(self.remote, self.label_column))
        statement = statement.order_by(self.label_column, self.remote).limit(limit + 1)
        rows = [(row[0], row[1]) for row in _session().execute(statement)]
        self._searching = len(rows) > limit
        self._rows = None if self._searching else rows

    @property
    def searching(self) -> bool:
        """Whether the related table has more rows than a select lists."""
        self.load()
        return bool(self._searching)

    @property
    def choices(self) -> list[tuple[t.Any, str]]:
        """The related rows as ``(value, label)``; empty when :attr:`searching`."""
        self.load()
        found = [(value, "" if label is None else str(label)) for value, label in self._rows or ()]
        kept = self._kept()
        if kept is not None and not any(value == kept for value, _ in found):
            found.append((kept, str(kept)))  # outside the narrowed rows: its bare key, never its label
        return found

    def pre_validate(self, form: wtforms.form.BaseForm) -> None:
        if self.data is None:
            return
        if not self.searching:
            if any(value == self.data for value, _ in self.choices):
                return
        else:
            kept = self._kept()
            if kept is not None and self.data == kept:
                return
            statement = self._narrowed(sa.select(self.remote)).where(self.remote == self.data).limit(1)
            if _session().execute(statement).first() is not None:
                return
        raise v.ValidationError(self.gettext("Not a valid choice."))

    def mark_if_gone(self) -> bool:
        """After the database refused a row, put an error on the field if the row it chose no longer exists.

        The choice was checked when the form was validated; a concurrent
        request may have deleted the row since, and the foreign key then
        refuses the save. The rows fetched for the select are dropped, so the
        form shown again no longer lists it.

        :returns: whether the chosen row is gone (and the field got the error).
        """
        self._rows, self._searching = None, None
        if self.data is None:
            return False
        # The kept value may be outside the narrowed rows: whether it still exists at all.
        statement = sa.select(self.remote) if self.data == self._kept() else self._narrowed(sa.select(self.remote))
        statement = statement.where(self.remote == self.data).limit(1)
        if _session().execute(statement).first() is not None:
            return False
        self.errors = [*self.errors, self.gettext("The chosen item no longer exists. Choose another.")]
        return True

    def selected_label(self) -> str | None:
        """The label of the chosen row, if any."""
        if self.data is None:
            return None
        statement = self._narrowed(sa.select(self.remote, self.label_column)).where(self.remote == self.data).limit(1)
        row = _session().execute(statement).first()
        if row is None:
            return str(self.data) if self.data == self._kept() else None  # outside the narrowed rows: the bare key
        return None if row[1] is None else str(row[1])

    # -- rendering --------------------------------------------------------------------------------------------------

    def search_url(self) -> str:
        """The URL of the search endpoint for this field's column."""
        return url_for("erlen_forms.fk_search", table=self.column.table.name, column=self.column.name)

    def __call__(self, **kwargs: t.Any) -> Markup:
        kwargs.setdefault("id", self.id)
        if self.flags.required and "required" not in kwargs:
            kwargs["required"] = True
        if self.searching:
            return self._render_search(kwargs)
        options = []
        if not self.flags.required or self.data is None:
            options.append(Markup('<option value="">{}</option>').format(self.blank_text))
        for value, label in self.choices:
            selected = " selected" if value == self.data else ""
            options.append(Markup('<option value="{}"{}>{}</option>').format(str(value), Markup(selected), label))
        return Markup("<select {}>{}</select>").format(
            Markup(html_params(name=self.name, **kwargs)), Markup("").join(options)
        )

    def _render_search(self, kwargs: dict[str, t.Any]) -> Markup:
        options_id = f"{self.id}-options"
        kwargs.update(
            {
                "type": "text",
                "list": options_id,
                "autocomplete": "off",
                "data_erlen_search": self.search_url(),
                "value": self._value(),
            }
        )
        current = self.selected_label() if self.data is not None else None
        option = Markup('<option value="{}">{}</option>').format(self._value(), current) if current is not None else ""
        script = url_for("erlen_plugin_static", plugin="forms", filename="fk-search.js")
        return Markup('<input {}><datalist id="{}">{}</datalist><script src="{}" defer></script>').format(
            Markup(html_params(name=self.name, **kwargs)), options_id, option, script
        )


def _enum_choices(column_type: satypes.Enum, *, blank: bool) -> tuple[list[t.Any], Callable[[t.Any], t.Any]]:
    """The choices and the coerce function of a select for an enum column."""
    # WTForms 3.3 wants SelectChoice objects; earlier versions take (value, label) pairs.
    select_choice = getattr(wtforms.fields.choices, "SelectChoice", None)

    def choice(value: str, label: str) -> t.Any:
        return select_choice(value, label) if select_choice is not None else (value, label)

    enum_class = column_type.enum_class
    if enum_class is not None and issubclass(enum_class, enum.Enum):
        members = enum_class
        choices = [choice(m.name, m.name.replace("_", " ").capitalize()) for m in members]

        def convert(value: t.Any) -> t.Any:
            # An unknown name stays a string, which matches no choice: "Not a valid choice."
            return members.__members__.get(str(value), str(value))

    else:
        choices = [choice(value, value) for value in column_type.enums]

        def convert(value: t.Any) -> t.Any:
            return str(value)

    def coerce(value: t.Any) -> t.Any:
        if value is None or value == "":
            return None
        if isinstance(value, enum.Enum):
            return value
        return convert(value)

    return ([choice("", "")] if blank else []) + choices, coerce


def _none_if_empty(value: t.Any) -> t.Any:
    return value or None


def _to_uuid(value: t.Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ValueError("Invalid UUID.") from None


def _is_required(column: sa.Column[t.Any]) -> bool:
    return (
        not column.nullable
        and column.default is None
        and column.server_default is None
        and not (column.primary_key and column.autoincrement in (True, "auto"))
    )


def _is_unique(column: sa.Column[t.Any]) -> bool:
    if column.unique:
        return True
    table = column.table
    for constraint in getattr(table, "constraints", ()):
        if isinstance(constraint, sa.UniqueConstraint) and list(constraint.columns) == [column]:
            return True
    return any(index.unique and list(index.columns) == [column] for index in getattr(table, "indexes", ()))


def field_for(
    model: type, attribute: str, column: sa.Column[t.Any], options: Mapping[str, t.Any] | None = None
) -> t.Any:
    """The unbound WTForms field for one column of ``model``.

    :param model: the mapped class.
    :param attribute: the mapped attribute's name.
    :param column: its column.
    :param options: keyword arguments for the field, overriding the derived ones;
        ``validators`` are added to the derived validators.
    :raises ModelFormError: the column's type has no field.
    """
    options = dict(options or {})
    extra_validators = list(options.pop("validators", ()))
    # A foreign key's select offers the rows it refers to, not their ids: "Author", not "Author id" (the admin's
    # column headings and detail pages name it so too).
    named = attribute.removesuffix("_id") if column.foreign_keys and attribute != "_id" else attribute
    label = options.pop("label", None) or column.info.get("label") or named.replace("_", " ").capitalize()
    description = options.pop("description", None) or column.comment or ""
    required = _is_required(column)
    kind = column.type
    validators: list[t.Any] = []
    field_kwargs: dict[str, t.Any] = {"description": description}
    python_type = _python_type(column)

    if column.foreign_keys:
        if len(column.foreign_keys) != 1:
            raise ModelFormError(f"{model.__name__}.{attribute}: a column with several foreign keys has no field.")
        field_class: type[wtforms.Field] = ModelSelectField
        field_kwargs["column"] = column
    elif isinstance(kind, satypes.Enum):
        field_class = wtforms.SelectField
        field_kwargs["choices"], field_kwargs["coerce"] = _enum_choices(kind, blank=not required)
    elif isinstance(kind, satypes.Boolean):
        field_class = wtforms.BooleanField
        required = False  # an unticked box is a value: False
    elif isinstance(kind, (satypes.Text, satypes.UnicodeText)):
        field_class = wtforms.TextAreaField
    elif isinstance(kind, satypes.Uuid):
        field_class = wtforms.StringField
        field_kwargs["filters"] = [_to_uuid]
    elif isinstance(kind, satypes.String):
        field_class = wtforms.StringField
        if kind.length:
            validators.append(v.Length(max=kind.length))
    elif isinstance(kind, satypes.Integer):
        field_class = wtforms.IntegerField
        low, high = int_bounds(kind)
        validators.append(v.NumberRange(min=low, max=high))
    elif isinstance(kind, satypes.Float) or python_type is float:
        field_class = wtforms.FloatField
        validators.append(Finite())
    elif isinstance(kind, satypes.Numeric):
        field_class = wtforms.DecimalField
        validators.append(Finite())
        scale = getattr(kind, "scale", None)
        if scale is not None:
            field_kwargs["places"] = scale
        if kind.precision is not None:
            whole = decimal.Decimal(10) ** (kind.precision - (scale or 0))
            step = decimal.Decimal(1).scaleb(-(scale or 0))
            validators.append(v.NumberRange(min=-(whole - step), max=whole - step))
        if scale is not None:
            validators.append(DecimalPlaces(scale))
    elif isinstance(kind, satypes.DateTime) and kind.timezone:
        field_class = UTCDateTimeField
        if "UTC" not in label:
            label = f"{label} (UTC)"
    elif isinstance(kind, satypes.DateTime) or python_type is datetime.datetime:
        field_class = wtforms.DateTimeLocalField
    elif isinstance(kind, satypes.Date) or python_type is datetime.date:
        field_class = wtforms.DateField
    elif isinstance(kind, satypes.Time) or python_type is datetime.time:
        field_class = wtforms.TimeField
    else:
        raise ModelFormError(
            f"{model.__name__}.{attribute}: the column type {kind!r} has no form field. Exclude the column "
            f"(exclude=[{attribute!r}]) or give a field for it (fields={{{attribute!r}: ...}})."
        )

    if required:
        validators.insert(0, v.DataRequired() if python_type is str else v.InputRequired())
    else:
        validators.insert(0, v.Optional())
        if python_type is str and field_class is not wtforms.SelectField:
            field_kwargs["filters"] = [_none_if_empty]
    if python_type is str:
        validators.append(NoNullCharacter())
    if _is_unique(column):
        validators.append(Unique(model, attribute))
    field_kwargs.update(options)
    return field_class(label, [*validators, *extra_validators], **field_kwargs)


class ModelForm(Form):
    """The base of forms made by :func:`model_form`.

    It keeps the object it was given as ``obj`` in :attr:`model_obj`, so
    :class:`Unique` lets the edited row keep its own value.
    """

    #: The mapped class the form was built from.
    model: t.ClassVar[type | None] = None

    def __init__(self, formdata: t.Any = FROM_REQUEST, obj: object | None = None, **kwargs: t.Any) -> None:
        """Take the arguments of :class:`~erlen_forms.Form`, keeping ``obj``.

        :param formdata: as for :class:`~erlen_forms.Form`.
        :param obj: the object being edited, if any.
        :param kwargs: ``prefix``, ``data``, ``meta`` and field values, as for
            :class:`~erlen_forms.Form`.
        """
        #: The object being edited, if any.
        self.model_obj = obj
        super().__init__(formdata, obj=obj, **kwargs)

    def save(self, obj: object | None = None, *, commit: bool = True) -> t.Any:
        """Write the form's data to an object and save it; a value taken meanwhile becomes a field error.

        :class:`Unique` checks the database when the form is validated, but
        two requests sending the same value at once both pass that check and
        the database refuses the second row. Then the session is rolled back,
        each field whose value another row now holds gets the error "This value
        is already taken." and ``None`` is returned, so the view shows the form
        again instead of failing with a 500::

            form = PostForm(obj=post)
            if form.validate_on_submit() and form.save() is not None:
                return redirect(url_for("show_post", id=post.id))
            return render_template("edit.html", form=form)

        :param obj: the object to write to; by default the ``obj`` the form was
            made with, else a new instance of :attr:`model`, added to the session.
        :param commit: commit the session; with ``False`` it is only flushed (the
            database checks its constraints then) and the view commits later.
        :returns: the saved object, or ``None`` when a unique value was taken or a chosen related row was
            deleted meanwhile (see :meth:`mark_taken_values`).
        :raises sqlalchemy.exc.IntegrityError: the database refused the data for
            another reason (a check constraint); the session is rolled back.
        :raises ModelFormError: there is no object and the form has no :attr:`model`.
        """
        target = obj if obj is not None else self.model_obj
        if target is None:
            if self.model is None:
                raise ModelFormError(f"{type(self).__name__}.save() needs an object: the form has no model.")
            target = self.model()
        self.populate_obj(target)
        session = _session()
        session.add(target)
        try:
            session.flush()
            if commit:
                session.commit()
        except sa.exc.IntegrityError:
            session.rollback()
            if self.mark_taken_values():
                return None
            raise
        return target

    def mark_taken_values(self) -> bool:
        """After the database refused a row, mark each field whose value a concurrent request made wrong.

        A unique field whose value another row now holds gets "This value is
        already taken."; a foreign-key field (:class:`ModelSelectField`) whose
        chosen row was deleted gets "The chosen item no longer exists. Choose
        another." For views that save the object themselves: call it once the
        session is rolled back after an ``IntegrityError`` (:meth:`save` does),
        to tell such a race from other refusals.

        :returns: whether any field got an error; if none did, the refusal had
            another cause.
        """
        taken = False
        for field in self:
            if isinstance(field, ModelSelectField) and field.mark_if_gone():
                taken = True
            for validator in field.validators:
                if not isinstance(validator, Unique):
                    continue
                try:
                    validator(self, field)
                except v.ValidationError as exc:
                    field.errors = [*field.errors, *exc.args[:1]]
                    taken = True
        return taken


def model_form(
    model: type,
    *,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    field_args: Mapping[str, Mapping[str, t.Any]] | None = None,
    fields: Mapping[str, t.Any] | None = None,
    base: type[ModelForm] = ModelForm,
    form_id: str | None = None,
    name: str | None = None,
) -> type[ModelForm]:
    """Build a form class from the SQLAlchemy mapped class ``model``.

    :param model: the mapped class (a subclass of :class:`erlen_db.Model`
        or of any declarative base).
    :param only: the attributes to include, in this order; by default every
        column attribute except primary keys.
    :param exclude: attributes to leave out.
    :param field_args: keyword arguments per attribute for the derived
        fields (``label``, ``description``, ``render_kw``, extra ``validators``).
    :param fields: fields to use instead of derived ones, or to add.
    :param base: the form base class, a subclass of :class:`ModelForm`.
    :param form_id: the form's id, so plugins can extend it; by default
        ``"model.<table name>"``.
    :param name: the class name; ``<Model>Form`` by default.
    :raises ModelFormError: ``model`` is not mapped, or names an unknown
        attribute, or a column has no field.
    """
    try:
        mapper = t.cast(Mapper[t.Any], sa.inspect(model))
    except sa.exc.NoInspectionAvailable:
        raise ModelFormError(f"{model!r} is not a SQLAlchemy mapped class.") from None
    columns = {prop.key: prop.columns[0] for prop in mapper.column_attrs if isinstance(prop.columns[0], sa.Column)}
    excluded = set(exclude)
    overrides = dict(fields or {})
    if only is not None:
        keys = list(only)
        unknown = [key for key in keys if key not in columns and key not in overrides]
        if unknown:
            raise ModelFormError(
                f"{model.__name__} has no column attribute {', '.join(map(repr, unknown))}; "
                f"its columns: {', '.join(columns)}."
            )
    else:
        keys = [key for key, column in columns.items() if not column.primary_key]
    unknown = [key for key in [*excluded, *(field_args or {})] if key not in columns]
    if unknown:
        raise ModelFormError(f"{model.__name__} has no column attribute {', '.join(map(repr, unknown))}.")
    namespace: dict[str, t.Any] = {
        "model": model,
        "form_id": form_id or f"model.{mapper.local_table.name}",  # type: ignore[attr-defined]
        "__module__": getattr(model, "__module__", __name__),
    }
    for key in keys:
        if key in excluded:
            continue
        if key in overrides:
            namespace[key] = overrides.pop(key)
        else:
            namespace[key] = field_for(model, key, columns[key], (field_args or {}).get(key))
    namespace.update(overrides)
    metaclass: t.Any = type(base)
    return t.cast(type[ModelForm], metaclass(name or f"{model.__name__}Form", (base,), namespace))
