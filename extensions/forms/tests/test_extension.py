from __future__ import annotations

import textwrap
import typing as t

import pytest
from forms_helpers import write_plugin
from forms_sample_plugin import ProfileForm
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

import erlen_forms
from erlen.testing import MakeApp
from erlen_forms import Form, FormExtension, FormExtensionError
from erlen_forms.testing import csrf_client_for


def test_a_plugin_adds_a_field_and_a_validator(make_app: MakeApp) -> None:
    client = csrf_client_for(make_app(["forms", "forms_sample_plugin"]))
    response = client.post("/profile", data={"name": "Ada"})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"accept_terms": ["This field is required."]}
    response = client.post("/profile", data={"name": "A" * 30, "accept_terms": "y"})
    assert response.get_json()["errors"] == {"name": ["Field cannot be longer than 20 characters."]}
    response = client.post("/profile", data={"name": "Ada", "accept_terms": "y", "age": "3"})
    assert response.status_code == 200
    assert response.get_json() == {"name": "Ada", "age": 3, "accept_terms": True}


def test_without_the_extending_plugin_the_form_is_unchanged(make_app: MakeApp) -> None:
    app = make_app(["forms"])
    with app.test_request_context("/", method="POST", data={"name": "Ada"}):
        form = ProfileForm()
        assert type(form) is ProfileForm
        assert "accept_terms" not in form
        assert form.validate_on_submit()


def test_the_extended_class_is_built_once_per_app(make_app: MakeApp) -> None:
    app = make_app(["forms", "forms_sample_plugin"])
    with app.test_request_context("/"):
        first, second = ProfileForm(), ProfileForm()
    assert type(first) is type(second)
    assert type(first) is not ProfileForm
    assert isinstance(first, ProfileForm)
    assert type(first).__name__ == "ProfileForm"
    assert erlen_forms.extended_class(ProfileForm, app) is type(first)
    other = make_app(["forms"])
    assert erlen_forms.extended_class(ProfileForm, other) is ProfileForm


def test_the_hook_is_called_once_per_app_and_form(make_app: MakeApp, tmp_path: t.Any) -> None:
    write_plugin(
        tmp_path,
        "forms_counting_plugin",
        """
        import erlen

        CALLS = []

        @erlen.hookimpl
        def erlen_forms_extend(form_id):
            CALLS.append(form_id)
        """,
    )
    import forms_counting_plugin  # type: ignore[import-not-found]

    calls: list[str] = forms_counting_plugin.CALLS
    app = make_app(["forms", "forms_counting_plugin"])
    for _ in range(3):
        with app.test_request_context("/", method="POST"):
            ProfileForm()
    assert calls == ["sample.profile"]


def test_required_flag_of_added_validators_is_set(make_app: MakeApp) -> None:
    app = make_app(["forms", "forms_sample_plugin"])
    with app.test_request_context("/"):
        form = ProfileForm()
        assert form.accept_terms.flags.required
        assert 'maxlength="20"' in str(form.name())


def test_fields_come_after_the_forms_own(make_app: MakeApp) -> None:
    app = make_app(["forms", "forms_sample_plugin"])
    with app.test_request_context("/"):
        assert [field.name for field in ProfileForm()] == ["name", "age", "accept_terms"]


class Base(Form):
    form_id = "tests.base"
    email = StringField("Email")


def extension_plugin(tmp_path: t.Any, name: str, body: str) -> str:
    header = textwrap.dedent(
        """
        import erlen
        import erlen_forms
        from wtforms import StringField, BooleanField
        from wtforms.validators import DataRequired, Length, ValidationError

        @erlen.hookimpl
        def erlen_forms_extend(form_id, form_class):
            if form_id != "tests.base":
                return None
        """
    )
    return write_plugin(tmp_path, name, header + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n")


def test_several_plugins_extend_the_same_form(make_app: MakeApp, tmp_path: t.Any) -> None:
    extension_plugin(
        tmp_path,
        "forms_ext_one",
        """
            return erlen_forms.FormExtension(fields={"terms": BooleanField("Terms", [DataRequired()])})
        """,
    )
    extension_plugin(
        tmp_path,
        "forms_ext_two",
        """
            def no_spam(form):
                if "spam" in (form.email.data or ""):
                    raise ValidationError("No spam.")
            return [
                erlen_forms.FormExtension(validators={"email": [Length(max=10)], "terms": []}),
                erlen_forms.FormExtension(form_validators=[no_spam]),
            ]
        """,
    )
    app = make_app(["forms", "forms_ext_one", "forms_ext_two"])
    with app.test_request_context("/", method="POST", data={"email": "spam@example.com"}):
        form = Base()
        assert not form.validate_on_submit()
        assert form.errors["terms"] == ["This field is required."]
        assert form.errors["email"] == ["Field cannot be longer than 10 characters."]
        assert form.form_errors == ["No spam."]


def test_a_plugin_adds_validators_to_a_field_a_later_plugin_adds(make_app: MakeApp, tmp_path: t.Any) -> None:
    """The field and its validators are merged whatever the plugins' order in PLUGINS."""
    extension_plugin(
        tmp_path,
        "forms_ext_validates_nickname",
        'return erlen_forms.FormExtension(validators={"nickname": [Length(max=5)]})',
    )
    extension_plugin(
        tmp_path,
        "forms_ext_adds_nickname",
        'return erlen_forms.FormExtension(fields={"nickname": StringField("Nickname")})',
    )
    app = make_app(["forms", "forms_ext_validates_nickname", "forms_ext_adds_nickname"])
    with app.test_request_context("/", method="POST", data={"email": "a@example.com", "nickname": "toolong"}):
        form = Base()
        assert not form.validate_on_submit()
        assert form.errors == {"nickname": ["Field cannot be longer than 5 characters."]}


def test_extensions_apply_to_subclasses_with_the_same_id(make_app: MakeApp, tmp_path: t.Any) -> None:
    extension_plugin(
        tmp_path, "forms_ext_sub", 'return erlen_forms.FormExtension(fields={"extra": StringField("Extra")})'
    )

    class Custom(Base):
        nickname = StringField()

    app = make_app(["forms", "forms_ext_sub"])
    with app.app_context():
        assert [f.name for f in Custom()] == ["email", "nickname", "extra"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('return erlen_forms.FormExtension(fields={"email": StringField()})', "already has a field"),
        ('return erlen_forms.FormExtension(fields={"validate": StringField()})', "already has a field"),
        ('return erlen_forms.FormExtension(fields={"x": "not a field"})', "unbound field"),
        ('return erlen_forms.FormExtension(fields={"address-city": StringField()})', "must be a Python identifier"),
        ('return erlen_forms.FormExtension(fields={"0day": StringField()})', "must be a Python identifier"),
        ('return erlen_forms.FormExtension(fields={"csrf_token": StringField()})', "CSRF token's input"),
        ('return erlen_forms.FormExtension(validators={"nope": [DataRequired()]})', "has no such field"),
        ('return {"fields": {}}', "returned dict for the form 'tests.base'; return an erlen_forms.FormExtension"),
        ("return True", "returned bool for the form 'tests.base'; return an erlen_forms.FormExtension"),
    ],
)
def test_bad_extensions_are_clear_errors(make_app: MakeApp, tmp_path: t.Any, body: str, message: str) -> None:
    name = f"forms_ext_bad_{abs(hash(body))}"
    extension_plugin(tmp_path, name, body)
    app = make_app(["forms", name])
    with app.app_context(), pytest.raises(FormExtensionError, match=message):
        Base()


def test_two_plugins_adding_the_same_field_is_an_error(make_app: MakeApp, tmp_path: t.Any) -> None:
    for name in ("forms_ext_dup_a", "forms_ext_dup_b"):
        extension_plugin(tmp_path, name, 'return erlen_forms.FormExtension(fields={"same": StringField()})')
    app = make_app(["forms", "forms_ext_dup_a", "forms_ext_dup_b"])
    with app.app_context(), pytest.raises(FormExtensionError, match="plugin 'forms_ext_dup_a' already has"):
        Base()


def test_forms_without_an_id_are_not_extended(make_app: MakeApp, tmp_path: t.Any) -> None:
    extension_plugin(tmp_path, "forms_ext_noid", 'return erlen_forms.FormExtension(fields={"x": StringField()})')

    class Anonymous(Form):
        email = StringField()

    app = make_app(["forms", "forms_ext_noid"])
    with app.app_context():
        assert type(Anonymous()) is Anonymous


def test_an_optional_hook_plugin_loads_without_forms(make_app: MakeApp) -> None:
    # forms_sample_plugin marks its forms hooks optional, but requires forms; this one does not.
    app = make_app(["forms_optional_plugin"])
    assert "forms" not in app.extensions


def test_unused_imports_are_used() -> None:
    assert BooleanField and DataRequired and Length and ValidationError and FormExtension
