from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask, render_template_string
from forms_helpers import token_in
from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Regexp

from erlen.testing import MakeApp
from erlen_forms import FileField, Form
from erlen_forms.testing import csrf_client_for

MACROS = '{% from "forms/macros.html" import render_form, render_field, render_errors, render_help, csrf_input %}'


class Address(Form):
    city = StringField("City")


class SignupForm(Form):
    submit = SubmitField("Sign up")
    email = StringField(
        "Email",
        [DataRequired(), Regexp(r".+@.+\..+", message="Invalid email address.")],
        description="We never share it.",
    )
    password = PasswordField("Password", [DataRequired(), Length(min=8)])
    bio = TextAreaField("Bio")
    plan = RadioField("Plan", choices=["free", "pro"], default="free")
    country = SelectField("Country", choices=["fr", "de"])
    terms = BooleanField("I accept the terms", [DataRequired()])
    next = HiddenField()
    address = FormField(Address, "Address")
    phones = FieldList(StringField("Phone"), "Phones", min_entries=1)


def render(app: Flask, source: str, **context: t.Any) -> str:
    return render_template_string(MACROS + source, **context)


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    app = make_app(["forms"])

    @app.route("/signup", methods=["GET", "POST"])
    def signup() -> t.Any:
        form = SignupForm()
        if form.validate_on_submit():
            return "welcome"
        return render(app, "{{ render_form(form, action='/signup') }}", form=form)

    return app


def test_render_form_on_get(client: t.Any) -> None:
    html = client.get("/signup").get_data(as_text=True)
    assert html.startswith('<form method="post" action="/signup" class="erlen-form">')
    assert 'enctype="multipart/form-data"' not in html
    assert '<input type="hidden" name="csrf_token" value="' in html
    assert '<label class="erlen-label" for="email">Email</label>' in html
    assert 'aria-describedby="email-help"' in html
    assert '<p class="erlen-help" id="email-help">We never share it.</p>' in html
    assert "aria-invalid" not in html
    assert 'id="password" minlength="8" name="password" required type="password"' in html
    assert '<textarea id="bio" name="bio">' in html
    assert '<select id="country" name="country">' in html
    assert '<input id="next" name="next" type="hidden" value="">' in html
    # Radio buttons are a group with a legend, each option with its own label.
    assert '<fieldset class="erlen-field erlen-fieldset" id="plan" role="radiogroup">' in html
    assert '<legend class="erlen-legend">Plan</legend>' in html
    assert '<label for="plan-0">free</label>' in html
    # A checkbox comes before its label.
    assert re.search(r'<input id="terms" name="terms" required type="checkbox" value="y">\s*<label', html)
    assert '<legend class="erlen-legend">Address</legend>' in html
    assert '<label class="erlen-label" for="address-city">City</label>' in html
    assert '<label class="erlen-label" for="phones-0">Phone</label>' in html
    # The form's own submit button comes last, whatever its place in the class.
    assert html.index('id="submit"') > html.index('id="phones-0"')
    assert "<button" not in html
    assert 'class="' in html and "bootstrap" not in html


def test_render_form_with_errors(client: t.Any) -> None:
    html = client.get("/signup").get_data(as_text=True)
    response = client.post("/signup", data={"email": "nope", "password": "short", "csrf_token": token_in(html)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'<input aria-describedby="email-help email-errors" aria-invalid="true" id="email"', html)
    assert '<ul class="erlen-errors" id="email-errors">' in html
    assert "<li>Invalid email address.</li>" in html
    assert re.search(r'<input aria-describedby="password-errors" aria-invalid="true" id="password"', html)
    assert 'aria-describedby="terms-errors" aria-invalid="true" id="terms"' in html
    assert 'role="radiogroup"' in html
    # The password is not sent back; the email is, escaped.
    assert 'value="nope"' in html
    assert "short" not in html
    assert (
        client.post(
            "/signup",
            data={
                "email": "a@example.com",
                "password": "long enough",
                "terms": "y",
                "plan": "pro",
                "country": "de",
                "csrf_token": token_in(html),
            },
        ).data
        == b"welcome"
    )


def test_values_are_escaped(app: Flask) -> None:
    with app.test_request_context("/", method="POST", data={"email": '"><script>alert(1)</script>'}):
        form = SignupForm()
        form.validate()
        html = render(app, "{{ render_form(form) }}", form=form)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html or "&#34;&gt;&lt;script" in html


def test_render_field_alone_with_attributes(app: Flask) -> None:
    with app.test_request_context("/"):
        html = render(
            app, "{{ render_field(form.email, placeholder='you@example.com', class_='wide') }}", form=SignupForm()
        )
    assert 'class="wide"' in html
    assert 'placeholder="you@example.com"' in html
    assert 'for="email"' in html


def test_form_errors_are_an_alert(app: Flask) -> None:
    with app.test_request_context("/"):
        form = SignupForm()
        form.form_errors.append("Too many attempts.")
        html = render(app, "{{ render_form(form) }}", form=form)
    assert '<div class="erlen-form-errors" role="alert">' in html
    assert "<li>Too many attempts.</li>" in html


def test_file_forms_are_multipart_and_forms_without_buttons_get_one(app: Flask) -> None:
    class Upload(Form):
        file = FileField("File")

    with app.test_request_context("/"):
        html = render(app, "{{ render_form(form, submit='Upload', id='up', novalidate=true) }}", form=Upload())
    assert 'enctype="multipart/form-data"' in html
    assert 'id="up"' in html
    assert 'novalidate="True"' in html
    assert '<button type="submit">Upload</button>' in html
    assert '<input id="file" name="file" type="file">' in html


def test_get_forms_carry_no_token(app: Flask) -> None:
    class Search(Form):
        q = StringField("Search")

    with app.test_request_context("/"):
        html = render(app, "{{ render_form(form, method='get') }}", form=Search())
    assert "csrf_token" not in html


def test_csrf_input_macro_and_globals(app: Flask) -> None:
    with app.test_request_context("/"):
        html = render(app, "{{ csrf_input() }}|{{ csrf_field() }}|{{ csrf_token() }}")
    first, second, third = html.split("|")
    assert first.startswith('<input type="hidden" name="csrf_token" value="')
    assert second.startswith('<input type="hidden" name="csrf_token" value="')
    assert third and "<" not in third


def test_apps_override_the_macros(make_app: MakeApp, tmp_path: t.Any) -> None:
    folder = tmp_path / "templates" / "forms"
    folder.mkdir(parents=True)
    (folder / "macros.html").write_text(
        "{% macro render_form(form) %}my form{% endmacro %}{% macro render_field(field) %}my field{% endmacro %}"
    )
    app = make_app(["forms"], template_folder=str(tmp_path / "templates"))
    with app.test_request_context("/"):
        html = render_template_string(
            '{% from "forms/macros.html" import render_form, render_field %}'
            "{{ render_form(f) }}/{{ render_field(f.email) }}",
            f=SignupForm(),
        )
    assert html == "my form/my field"


def test_the_page_works_end_to_end_with_the_testing_client(make_app: MakeApp) -> None:
    app = make_app(["forms"])

    @app.route("/s", methods=["GET", "POST"])
    def s() -> t.Any:
        form = SignupForm()
        return "ok" if form.validate_on_submit() else render(app, "{{ render_form(form) }}", form=form)

    client = csrf_client_for(app)
    data = {"email": "a@example.com", "password": "long enough", "terms": "y", "plan": "free", "country": "fr"}
    assert client.post("/s", data=data).data == b"ok"


def test_checkbox_lists_and_invalid_radio_groups(app: Flask) -> None:
    from wtforms import widgets

    class Choices(Form):
        plan = RadioField("Plan", [DataRequired()], choices=["free", "pro"])
        tags = SelectMultipleField(
            "Tags",
            choices=["a", "b"],
            widget=widgets.ListWidget(prefix_label=False),
            option_widget=widgets.CheckboxInput(),
            description="Pick any.",
        )

    with app.test_request_context("/", method="POST", data={"plan": "zzz"}):
        form = Choices()
        form.validate()
        html = render(app, "{{ render_field(form.plan) }}{{ render_field(form.tags) }}", form=form)
    assert (
        '<fieldset class="erlen-field erlen-fieldset erlen-field-invalid" id="plan" role="radiogroup" '
        'aria-required="true" aria-describedby="plan-errors" aria-invalid="true">'
    ) in html
    assert '<ul class="erlen-errors" id="plan-errors">' in html
    assert '<fieldset class="erlen-field erlen-fieldset" id="tags" aria-describedby="tags-help">' in html
    assert '<input id="tags-0" name="tags" type="checkbox" value="a"> <label for="tags-0">a</label>' in html


def test_hidden_tag(app: Flask) -> None:
    with app.test_request_context("/"):
        html = str(SignupForm(data={"next": "/home"}).hidden_tag())
    assert html.startswith('<input type="hidden" name="csrf_token" value="')
    assert html.endswith('<input id="next" name="next" type="hidden" value="/home">')


def test_render_form_can_make_its_submit_buttons_the_danger_style(app: Flask) -> None:
    """Found walking the example app: "Delete my account" and "Turn off two-factor" were blue primary buttons,
    since render_form could not style its button. ``danger=True`` makes every submit button the layout's red
    ``erlen-button-danger``, its own or the form's; without it they stay as they were (and the keyword is no
    attribute of the form)."""

    class Confirm(Form):
        password = PasswordField("Password")

    with app.test_request_context("/"):
        own = render(app, "{{ render_form(f, submit='Delete my account', danger=True) }}", f=Confirm())
        forms = render(app, "{{ render_form(f, danger=True) }}", f=SignupForm())
        plain = render(app, "{{ render_form(f, submit='Save') }}", f=Confirm())
    assert '<button type="submit" class="erlen-button-danger">Delete my account</button>' in own
    assert 'class="erlen-button-danger" id="submit" name="submit" type="submit" value="Sign up"' in forms
    assert "danger" not in own[: own.index(">")]  # not an attribute of the <form>
    assert '<button type="submit">Save</button>' in plain and "danger" not in plain
