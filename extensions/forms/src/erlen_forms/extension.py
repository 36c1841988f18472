"""Forms that other plugins extend, without subclassing them.

A form declares a ``form_id``; any enabled plugin implements the hook
``erlen_forms_extend(form_id, form_class)`` and returns a
:class:`FormExtension` (or several) for the forms it extends. The first time
the form is instantiated in an app, its class is replaced by a subclass with
the extensions applied; that class is built once per app and kept in
``app.extensions["forms"]``.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from flask import Flask
from wtforms.fields.core import UnboundField

import erlen

from .errors import FormExtensionError
from .state import state_of

if t.TYPE_CHECKING:
    from .form import Form, FormValidator


@dataclass(frozen=True)
class FormExtension:
    """What a plugin adds to a form another plugin defines.

    :param fields: new fields by name, as in a form class body
        (``{"accept_terms": BooleanField("I accept the terms", [DataRequired()])}``).
        They come after the form's own fields, before its submit buttons
        when the form is rendered with ``render_form``.
    :param validators: validators to add to existing fields, by field name.
    :param form_validators: callables that receive the whole form and raise
        :class:`wtforms.validators.ValidationError` to reject it; their
        messages go to ``form.form_errors``.
    """

    fields: Mapping[str, UnboundField[t.Any]] = field(default_factory=dict)
    validators: Mapping[str, Iterable[Callable[..., object]]] = field(default_factory=dict)
    form_validators: Iterable[FormValidator] = ()


def extended_class(form_class: type[Form], app: Flask) -> type[Form]:
    """The class of ``form_class`` with every enabled plugin's extensions, built once per app.

    :param form_class: a form class with a ``form_id``.
    :param app: the app whose plugins extend it.
    :returns: ``form_class`` itself when no plugin extends it.
    :raises FormExtensionError: an extension names a field the form lacks,
        adds a field that exists, whose name is not an identifier or is the
        CSRF token's, or returns something else than a
        :class:`FormExtension`.
    """
    state = state_of(app)
    try:
        return t.cast("type[Form]", state.form_classes[form_class])
    except KeyError:
        pass
    with state.lock:
        if form_class not in state.form_classes:
            state.form_classes[form_class] = _build(form_class, app)
        return t.cast("type[Form]", state.form_classes[form_class])


def _extensions(form_class: type[Form], app: Flask) -> list[tuple[str, FormExtension]]:
    registry = erlen.plugins_of(app)
    found: list[tuple[str, FormExtension]] = []
    for plugin, result in registry.call_each("erlen_forms_extend", form_id=form_class.form_id, form_class=form_class):
        if result is None:
            continue
        # Anything but a list is one item, so a dict or a bool gets the message below, not a bare TypeError.
        items = result if isinstance(result, (list, tuple)) else [result]
        for item in items:
            if not isinstance(item, FormExtension):
                raise FormExtensionError(
                    f"Plugin {plugin.name!r}: erlen_forms_extend returned {type(item).__name__} for the form "
                    f"{form_class.form_id!r}; return an erlen_forms.FormExtension, a list of them, or None."
                )
            found.append((plugin.name, item))
    return found


def _build(form_class: type[Form], app: Flask) -> type[Form]:
    extensions = _extensions(form_class, app)
    if not extensions:
        return form_class
    existing = {name for name in dir(form_class) if isinstance(getattr(form_class, name, None), UnboundField)}
    namespace: dict[str, t.Any] = {"_erlen_extended": True, "__module__": form_class.__module__}
    validators: dict[str, tuple[t.Any, ...]] = {k: tuple(v) for k, v in form_class.extra_field_validators.items()}
    form_validators = list(form_class.form_validators)
    added_by: dict[str, str] = {}
    csrf_field_name = app.config.get("FORMS_CSRF_FIELD_NAME", "csrf_token")
    for plugin, extension in extensions:
        for name, unbound in extension.fields.items():
            if not isinstance(unbound, UnboundField):
                raise FormExtensionError(
                    f"Plugin {plugin!r} adds {name!r} to the form {form_class.form_id!r} as "
                    f"{type(unbound).__name__}; give an unbound field such as StringField('Label')."
                )
            if not name.isidentifier():
                # WTForms names a FormField's or FieldList's inputs "address-city", "phones-0": a field named so
                # would read (and render) another field's input.
                raise FormExtensionError(
                    f"Plugin {plugin!r} adds the field {name!r} to the form {form_class.form_id!r}: a field's name "
                    "must be a Python identifier (letters, digits and _, not starting with a digit); choose another."
                )
            if name == csrf_field_name:
                raise FormExtensionError(
                    f"Plugin {plugin!r} adds the field {name!r} to the form {form_class.form_id!r}, but that is the "
                    "name of the CSRF token's input (FORMS_CSRF_FIELD_NAME); choose another name."
                )
            if name.startswith("_") or hasattr(form_class, name) or name in added_by:
                owner = f"plugin {added_by[name]!r}" if name in added_by else "the form itself"
                raise FormExtensionError(
                    f"Plugin {plugin!r} adds the field {name!r} to the form {form_class.form_id!r}, "
                    f"but {owner} already has a field or attribute of that name; choose another name."
                )
            namespace[name] = unbound
            added_by[name] = plugin
    # Validators after every plugin's fields: a plugin may validate a field another plugin adds, whichever of the
    # two comes first in PLUGINS.
    for plugin, extension in extensions:
        for name, extra in extension.validators.items():
            if name not in existing and name not in added_by:
                raise FormExtensionError(
                    f"Plugin {plugin!r} adds validators to the field {name!r} of the form {form_class.form_id!r}, "
                    f"which has no such field. Its fields: {', '.join(sorted(existing | set(added_by)))}."
                )
            validators[name] = (*validators.get(name, ()), *extra)
        form_validators.extend(extension.form_validators)
    namespace["extra_field_validators"] = validators
    namespace["form_validators"] = tuple(form_validators)
    metaclass: t.Any = type(form_class)
    return t.cast("type[Form]", metaclass(form_class.__name__, (form_class,), namespace))
