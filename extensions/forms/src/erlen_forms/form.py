"""Forms bound to the current request."""

from __future__ import annotations

import decimal
import json
import typing as t
from collections.abc import Callable, Iterable, Iterator, Mapping

import wtforms
from flask import current_app, has_app_context, has_request_context, request
from markupsafe import Markup
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from wtforms.form import FormMeta
from wtforms.validators import ValidationError

from erlen.json_keys import json_path, loads_noting_repeated_keys

from .csrf import UNSAFE_METHODS, csrf_field
from .errors import FormDefinitionError

#: A validator of a whole form: it receives the form and raises
#: :class:`wtforms.validators.ValidationError` to reject it.
FormValidator = Callable[["Form"], object]


class _Unset:
    def __repr__(self) -> str:
        return "<from the request>"


#: The default of ``formdata``: read it from the current request when it was submitted.
FROM_REQUEST: t.Any = _Unset()


class _ErlenFormMeta(FormMeta):
    """Swaps a form class for its extended version (see :mod:`erlen_forms.extension`) on instantiation."""

    def __call__(cls, *args: t.Any, **kwargs: t.Any) -> t.Any:
        target: t.Any = cls
        if getattr(cls, "form_id", None) and not cls.__dict__.get("_erlen_extended", False) and has_app_context():
            from .extension import extended_class

            target = extended_class(target, current_app._get_current_object())  # type: ignore[attr-defined]
        return FormMeta.__call__(target, *args, **kwargs)


def request_formdata() -> MultiDict[str, t.Any] | None:
    """The data the current request submitted, as WTForms reads it.

    Form fields and uploaded files for form posts; a JSON object flattened
    into WTForms' names (``{"address": {"city": "x"}}`` gives
    ``address-city``, lists give ``tags`` and ``tags-0``...) for JSON
    requests; ``None`` when the request submitted nothing.
    """
    if request.is_json:
        payload, _ = read_json_body()
        return flatten_json(payload) if isinstance(payload, Mapping) else ImmutableMultiDict()
    # Malformed multipart bodies can give keys that are not strings (None); WTForms expects strings.
    items = [
        (key, value)
        for source in (request.form, request.files)
        for key, value in source.items(multi=True)
        if isinstance(key, str)
    ]
    return ImmutableMultiDict(items)


#: The form error of a JSON submission whose body is not an object: none of the fields could be read.
UNREADABLE_JSON = (
    "The request body is not a JSON object, so none of the form's fields could be read: send an object whose "
    "keys are the field names."
)

#: The key of the request's WSGI environ keeping what :func:`read_json_body` read (the form reads it twice).
_JSON_BODY_KEY = "erlen_forms.json_body"


def read_json_body() -> tuple[t.Any, str | None]:
    """The current request's JSON body, and the form error that keeps a form from reading it.

    A body holding a key twice in one object (``{"name": "a", "name": "b"}``) is not read either: the standard
    library keeps the last value and drops the other silently, and a proxy that reads the first sees another
    submission than the app. The error names the key and its place (``address.city``).

    :returns: ``(payload, None)`` for a JSON object; ``(None, None)`` for a request that is not JSON or has an empty
        body (nothing submitted); ``(None, error)`` for a body that is malformed, nested too deeply or not an object
        (:data:`UNREADABLE_JSON`), or repeats a key.
    """
    environ = request.environ
    found: tuple[t.Any, str | None] | None = environ.get(_JSON_BODY_KEY)
    if found is None:
        found = environ[_JSON_BODY_KEY] = _read_json_body()
    return found


def _read_json_body() -> tuple[t.Any, str | None]:
    """What :func:`read_json_body` answers, read from the request."""
    if not request.is_json:
        return None, None
    data = request.get_data(cache=True)
    if not data:
        return None, None
    try:
        payload, location = loads_noting_repeated_keys(data)
    # RecursionError: JSON nested deeper than the decoder recurses ("[[[[..."), malformed input like any other.
    except (ValueError, RecursionError):
        return None, UNREADABLE_JSON
    if location is not None:
        key = json.dumps(location[-1], ensure_ascii=False)
        return (
            None,
            f"The request body has the key {key} twice in one object, at {json_path(location)}: send each key once.",
        )
    if not isinstance(payload, Mapping):
        return None, UNREADABLE_JSON
    return payload, None


def unreadable_json_body() -> bool:
    """Whether the current request says it sends JSON and sends something a form cannot read: not an object
    (``{not json``, ``[1, 2]``, ``null``), or an object holding a key twice (see :func:`read_json_body`).

    Such a body gives the form no data, as an empty one does; unlike an
    empty body, it was meant to carry data, so the form is not valid (a form of optional fields would otherwise
    save blanks over the stored values).
    """
    return read_json_body()[1] is not None


def _scalar(value: object) -> str:
    if value is True:
        return "y"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def flatten_json(payload: Mapping[t.Any, t.Any]) -> ImmutableMultiDict[str, str]:
    """Turn a JSON object into the form data WTForms expects.

    :param payload: the decoded JSON object.
    """
    items: list[tuple[str, str]] = []

    def walk(prefix: str, value: object, depth: int) -> None:
        if depth > 32:
            return
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(f"{prefix}-{key}" if prefix else str(key), inner, depth + 1)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                if not isinstance(inner, (Mapping, list)):
                    # Both shapes: "tags" for multiple selects, "tags-0" for lists of fields.
                    items.append((prefix, _scalar(inner)))
                walk(f"{prefix}-{index}", inner, depth + 1)
        else:
            items.append((prefix, _scalar(value)))

    walk("", payload, 0)
    return ImmutableMultiDict(items)


def _reject_signaling_nans(fields: Iterable[wtforms.Field]) -> None:
    # "sNaN" parses as a Decimal that raises in comparisons, and so in WTForms' NumberRange: a 500.
    for field in fields:
        if isinstance(field.data, decimal.Decimal) and field.data.is_snan():
            field.data = None
            field.process_errors = [*field.process_errors, field.gettext("Not a valid decimal value.")]


def _note_object_values(form: wtforms.Form, obj: object | None) -> None:
    """Tell each field that keeps its object's value (:class:`~erlen_forms.ModelSelectField`, outside its
    restricted rows) whether ``obj`` gave it its value, rather than ``data=``, a keyword or its default.

    :param form: the form, processed.
    :param obj: the object the form was given, if any.
    """
    for name, field in form._fields.items():
        if isinstance(getattr(field, "from_object", None), bool):
            setattr(field, "from_object", obj is not None and hasattr(obj, name))  # noqa: B010 (duck-typed)


def _refuse_the_csrf_input_name(form: wtforms.Form) -> None:
    """Raise :class:`FormDefinitionError` when a field of ``form`` has the CSRF token's input name.

    Such a field would read the token as its value, and its input would be sent beside the token's under one
    name, so that the CSRF check could read the field's text instead of the token.
    """
    csrf_name = current_app.config.get("FORMS_CSRF_FIELD_NAME", "csrf_token")
    for field in form._fields.values():
        if field.name == csrf_name:
            raise FormDefinitionError(
                f"The form {type(form).__qualname__} has a field named {csrf_name!r}, the name of the CSRF "
                "token's input (FORMS_CSRF_FIELD_NAME): rename the field, or set FORMS_CSRF_FIELD_NAME to another "
                "name. Erlen adds the token to every form itself (render_form, form.csrf_field())."
            )


class Form(wtforms.Form, metaclass=_ErlenFormMeta):
    """A WTForms form that reads the current request.

    Instantiated in a view without ``formdata``, it reads the submitted form
    fields, uploaded files or JSON object of the current request when the
    request is a ``POST``, ``PUT``, ``PATCH`` or ``DELETE``::

        class ContactForm(erlen_forms.Form):
            form_id = "contact"
            email = EmailField("Email", [DataRequired()])

        @app.route("/contact", methods=["GET", "POST"])
        def contact():
            form = ContactForm()
            if form.validate_on_submit():
                ...

    Give the form a ``form_id`` (``"plugin.name"``) so other plugins can
    extend it through the hook ``erlen_forms_extend``.

    CSRF tokens are checked for the whole app before the view runs, so the
    form has no token field of its own; :func:`render_form` and
    :meth:`csrf_field` add the token to the page.

    :param formdata: the data to process; by default that of the current
        request when it was submitted. Pass ``None`` to ignore the request.
    :param obj: an object whose attributes fill the fields.
    :param prefix: a prefix for the fields' names.
    :param data: a mapping of Python values that fill the fields.
    :param meta: overrides of the form's ``Meta`` options.
    :param kwargs: values for fields by name.
    """

    #: The stable identifier plugins extend the form by; ``None`` makes it not extensible.
    form_id: t.ClassVar[str | None] = None
    #: Validators of the whole form, added by :class:`~erlen_forms.FormExtension`.
    form_validators: t.ClassVar[tuple[FormValidator, ...]] = ()
    #: Validators added to existing fields by extensions, by field name.
    extra_field_validators: t.ClassVar[Mapping[str, tuple[t.Any, ...]]] = {}

    def __init__(
        self,
        formdata: t.Any = FROM_REQUEST,
        obj: object | None = None,
        prefix: str = "",
        data: Mapping[str, t.Any] | None = None,
        meta: Mapping[str, t.Any] | None = None,
        **kwargs: t.Any,
    ) -> None:
        #: Whether the submission's JSON body was not an object (see :func:`unreadable_json_body`).
        self.unreadable_body = False
        #: The form error saying why (:func:`read_json_body`).
        self.unreadable_body_error: str | None = None
        if formdata is FROM_REQUEST:
            formdata = request_formdata() if self.is_submitted() else None
            if formdata is not None and request.is_json:
                self.unreadable_body_error = read_json_body()[1]
                self.unreadable_body = self.unreadable_body_error is not None
        super().__init__(formdata=formdata, obj=obj, prefix=prefix, data=data, meta=meta, **kwargs)
        _note_object_values(self, obj)
        if has_app_context():
            _refuse_the_csrf_input_name(self)
        _reject_signaling_nans(self._iter_all())
        for name, validators in self.extra_field_validators.items():
            field = self._fields.get(name)
            if field is None:
                continue
            field.validators = [*field.validators, *validators]
            for validator in validators:
                for flag, value in getattr(validator, "field_flags", {}).items():
                    setattr(field.flags, flag, value)

    @staticmethod
    def is_submitted() -> bool:
        """Whether the current request submits data: a ``POST``, ``PUT``, ``PATCH`` or ``DELETE``."""
        return has_request_context() and request.method in UNSAFE_METHODS

    def validate_on_submit(self, extra_validators: Mapping[str, t.Any] | None = None) -> bool:
        """Validate the form if the request submitted it.

        :param extra_validators: more validators per field name, for this call.
        :returns: ``True`` when the request submitted the form and it is valid.
        """
        return self.is_submitted() and self.validate(extra_validators=extra_validators)

    def validate(self, extra_validators: Mapping[str, t.Any] | None = None) -> bool:
        """Validate every field, then the form's validators.

        Errors of form validators go to :attr:`form_errors` (a view adds its
        own with :meth:`add_form_error`), as does a JSON submission whose body
        is not an object (:data:`UNREADABLE_JSON`) or holds a key twice. Text holding the
        NUL character is an error of its field in every form: no database
        column can store it (PostgreSQL refuses it), and no person types it.
        """
        valid = bool(super().validate(extra_validators=extra_validators))
        if self.unreadable_body:
            self.form_errors.append(self.unreadable_body_error or UNREADABLE_JSON)
            valid = False
        if not self._refuse_nul_characters():
            valid = False
        for validator in self.form_validators:
            try:
                validator(self)
            except ValidationError as exc:
                self.form_errors.append(str(exc.args[0]) if exc.args else "This form is not valid.")
                valid = False
        return valid

    def add_form_error(self, message: str) -> None:
        """Add an error about the whole form, not one field: a view's verdict after the fields validated.

        :func:`render_form` (and the macro ``render_form_errors``) shows it
        above the fields, in a ``role="alert"`` block; ``form.errors`` lists it
        under the key ``""``. For a rule the form always checks, give the
        form a validator instead (see :class:`~erlen_forms.FormExtension`)::

            if form.validate_on_submit():
                if not booking_fits(form.start.data, form.end.data):
                    form.add_form_error("The room is taken at that time.")
                else:
                    ...
            return render_template("book.html", form=form)

        :param message: the error, as the user reads it.
        """
        self.form_errors.append(message)

    def _refuse_nul_characters(self) -> bool:
        """Give each field whose text holds NUL an error; ``False`` when there was one."""
        found = False
        fields = list(self._iter_all())
        for field in fields:
            if not isinstance(field, (wtforms.FormField, wtforms.FieldList)) and _holds_nul(field.data):
                if not field.errors:  # a model form's own NUL validator may have said so already
                    field.errors = [field.gettext("The text holds a character that is not allowed.")]
                found = True
        if found:
            # A list collected its entries' errors while validating: collect them again, innermost lists first.
            for field in reversed(fields):
                if isinstance(field, wtforms.FieldList) and any(entry.errors for entry in field.entries):
                    field.errors = [entry.errors for entry in field.entries]
            self._errors = None  # wtforms caches Form.errors
        return not found

    @property
    def has_file_fields(self) -> bool:
        """Whether the form has a file field, so it must be posted as ``multipart/form-data``."""
        return any(isinstance(field, wtforms.FileField) for field in self._iter_all())

    def _iter_all(self) -> Iterator[wtforms.Field]:
        stack: list[t.Any] = list(self)
        while stack:
            field = stack.pop()
            yield field
            if isinstance(field, wtforms.FormField):
                stack.extend(field.form)
            elif isinstance(field, wtforms.FieldList):
                stack.extend(field.entries)

    @staticmethod
    def csrf_field() -> Markup:
        """A hidden input with a CSRF token, to write inside a hand-written ``<form>``."""
        return csrf_field()

    def hidden_tag(self) -> Markup:
        """The CSRF token input and every hidden field of the form, as Flask-WTF's ``hidden_tag``."""
        hidden = [field() for field in self if getattr(field.widget, "input_type", None) == "hidden"]
        return Markup("").join([csrf_field(), *hidden])


def _holds_nul(data: object) -> bool:
    """Whether a field's data is text, or a list of texts, holding the NUL character."""
    if isinstance(data, str):
        return "\x00" in data
    return isinstance(data, list) and any(isinstance(item, str) and "\x00" in item for item in data)
