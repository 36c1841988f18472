from __future__ import annotations

import io
import typing as t

import pytest
from flask import Flask, jsonify
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    DecimalField,
    FieldList,
    FormField,
    IntegerField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, NumberRange, ValidationError

import erlen_forms
from erlen.testing import MakeApp
from erlen_forms import FileField, Form, flatten_json
from erlen_forms.testing import csrf_client_for


class Address(Form):
    city = StringField("City", [DataRequired()])


class PersonForm(Form):
    name = StringField("Name", [DataRequired()])
    age = IntegerField("Age")
    admin = BooleanField("Admin")
    tags = SelectMultipleField("Tags", choices=["a", "b"])
    address = FormField(Address)
    phones = FieldList(StringField("Phone"), min_entries=0)
    avatar = FileField("Avatar")


def make_person_app(make_app: MakeApp) -> Flask:
    app = make_app(["forms"])

    @app.route("/person", methods=["GET", "POST", "PUT"])
    def person() -> t.Any:
        form = PersonForm()
        submitted = form.is_submitted()
        valid = form.validate_on_submit()
        data = dict(form.data)
        avatar = data.pop("avatar")
        data["avatar"] = avatar.filename if avatar else None
        return jsonify({"submitted": submitted, "valid": valid, "data": data, "errors": form.errors})

    return app


@pytest.fixture
def person_client(make_app: MakeApp) -> t.Any:
    return csrf_client_for(make_person_app(make_app))


def test_get_is_not_submitted(person_client: t.Any) -> None:
    body = person_client.get("/person").get_json()
    assert body["submitted"] is False
    assert body["valid"] is False
    assert body["errors"] == {}


def test_reads_form_data(person_client: t.Any) -> None:
    body = person_client.post(
        "/person",
        data={"name": "Ada", "age": "36", "admin": "y", "tags": ["a", "b"], "address-city": "London", "phones-0": "1"},
    ).get_json()
    assert body["valid"] is True, body
    assert body["data"] == {
        "name": "Ada",
        "age": 36,
        "admin": True,
        "tags": ["a", "b"],
        "address": {"city": "London"},
        "phones": ["1"],
        "avatar": None,
    }


def test_reports_errors(person_client: t.Any) -> None:
    body = person_client.put("/person", data={"age": "old"}).get_json()
    assert body["submitted"] is True
    assert body["valid"] is False
    assert set(body["errors"]) == {"name", "age", "address"}


def test_reads_uploaded_files(person_client: t.Any) -> None:
    body = person_client.post(
        "/person",
        data={"name": "Ada", "address-city": "x", "avatar": (io.BytesIO(b"data"), "me.png")},
        content_type="multipart/form-data",
    ).get_json()
    assert body["valid"] is True, body
    assert body["data"]["avatar"] == "me.png"


def test_reads_json(person_client: t.Any) -> None:
    body = person_client.post(
        "/person",
        json={
            "name": "Ada",
            "age": 36,
            "admin": True,
            "tags": ["b"],
            "address": {"city": "Paris"},
            "phones": ["1", "2"],
        },
    ).get_json()
    assert body["valid"] is True, body
    assert body["data"] == {
        "name": "Ada",
        "age": 36,
        "admin": True,
        "tags": ["b"],
        "address": {"city": "Paris"},
        "phones": ["1", "2"],
        "avatar": None,
    }


@pytest.mark.parametrize("payload", [[], "text", 3, None, {"admin": False, "name": None}])
def test_json_that_is_not_a_form_is_invalid_not_an_error(person_client: t.Any, payload: object) -> None:
    body = person_client.post("/person", json=payload).get_json()
    assert body["valid"] is False
    assert body["data"]["admin"] is False


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", "null", '"Ada"', "3"])
def test_a_json_body_that_is_not_an_object_never_validates_a_form_of_optional_fields(
    make_app: MakeApp, body: str
) -> None:
    # Before, such a body was an empty form, and a form of optional fields was valid: saved, it blanked the row.
    from erlen_forms.form import UNREADABLE_JSON

    app = make_app(["forms"])

    class NicknameForm(Form):
        nickname = StringField("Nickname")

    @app.post("/nickname")
    def nickname() -> t.Any:
        form = NicknameForm()
        return jsonify({"valid": form.validate_on_submit(), "errors": form.errors})

    client = csrf_client_for(app)
    answer = client.post("/nickname", data=body, content_type="application/json").get_json()
    assert answer == {"valid": False, "errors": {"": [UNREADABLE_JSON]}}
    # An object, even an empty one, and an empty body are read as before.
    assert client.post("/nickname", json={}).get_json() == {"valid": True, "errors": {}}
    assert client.post("/nickname", data=b"", content_type="application/json").get_json()["valid"] is True


@pytest.mark.parametrize(
    ("body", "key", "path"),
    [
        (b'{"nickname": "Ada", "nickname": "admin"}', "nickname", "nickname"),
        (b'{"nickname": "Ada", "nickn\\u0061me": "admin"}', "nickname", "nickname"),  # an escape: the same key
        (b'{"address": {"city": "Oslo", "city": "Bergen"}, "nickname": "Ada"}', "city", "address.city"),
        (b'{"phones": [{"n": 1}, {"n": 2, "n": 3}], "nickname": "Ada"}', "n", "phones[1].n"),
    ],
)
def test_a_json_body_holding_a_key_twice_never_validates_and_says_where(
    make_app: MakeApp, body: bytes, key: str, path: str
) -> None:
    """The JSON decoder keeps the last of a repeated key: {"nickname": "Ada", "nickname": "admin"} was a valid
    form of "admin", and a proxy reading the first saw "Ada". The form is now invalid, and its error names the key."""
    app = make_app(["forms"])

    class NicknameForm(Form):
        nickname = StringField("Nickname")

    @app.post("/nickname")
    def nickname() -> t.Any:
        form = NicknameForm()
        return jsonify({"valid": form.validate_on_submit(), "errors": form.errors, "data": form.nickname.data})

    client = csrf_client_for(app)
    answer = client.post("/nickname", data=body, content_type="application/json").get_json()
    message = f'The request body has the key "{key}" twice in one object, at {path}: send each key once.'
    assert answer == {"valid": False, "errors": {"": [message]}, "data": None}
    assert erlen_forms.read_json_body is not None  # the package's public name
    # The same key in different objects is no repetition.
    fine = client.post("/nickname", json={"nickname": "Ada", "a": [{"n": 1}, {"n": 2}]}).get_json()
    assert fine == {"valid": True, "errors": {}, "data": "Ada"}


def test_malformed_json_is_invalid_not_an_error(person_client: t.Any) -> None:
    response = person_client.post("/person", data=b"{not json", content_type="application/json")
    assert response.status_code == 200
    assert response.get_json()["valid"] is False


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"name": ' * 50_000 + "1" + "}" * 50_000])
def test_json_nested_too_deep_is_invalid_not_an_error(person_client: t.Any, body: str) -> None:
    # The JSON decoder raises RecursionError (not ValueError) on such bodies, which silent=True lets through.
    response = person_client.post("/person", data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.get_json()["valid"] is False


def test_flatten_json() -> None:
    payload = {"a": {"b": 1, "c": [{"d": True}, {"d": False}]}, "e": ["x", None]}
    assert sorted(flatten_json(payload).items(multi=True)) == sorted(
        [("a-b", "1"), ("a-c-0-d", "y"), ("a-c-1-d", "false"), ("e", "x"), ("e-0", "x"), ("e", ""), ("e-1", "")]
    )


def test_explicit_formdata_ignores_the_request(make_app: MakeApp) -> None:
    app = make_app(["forms"])
    with app.test_request_context("/", method="POST", data={"name": "from request"}):
        assert PersonForm(formdata=None).name.data is None
        assert PersonForm(data={"name": "given"}).name.data == "from request"
        assert PersonForm(formdata=None, data={"name": "given"}).name.data == "given"


def test_obj_fills_fields_on_get(make_app: MakeApp) -> None:
    class Person:
        name = "Grace"
        age = 85

    app = make_app(["forms"])
    with app.test_request_context("/"):
        form = PersonForm(obj=Person())
        assert (form.name.data, form.age.data) == ("Grace", 85)
        assert form.validate_on_submit() is False


def test_works_outside_a_request(make_app: MakeApp) -> None:
    form = PersonForm()
    assert form.is_submitted() is False
    assert form.name.data is None
    with make_app(["forms"]).app_context():
        assert PersonForm(data={"name": "x"}).name.data == "x"


def test_form_validators_add_form_errors(make_app: MakeApp) -> None:
    def not_both(form: Form) -> None:
        if form.data["name"] == "root":
            raise ValidationError("root may not sign up.")

    class Checked(Form):
        form_validators = (not_both,)
        name = StringField("Name")

    with make_app(["forms"]).test_request_context("/", method="POST", data={"name": "root"}):
        form = Checked()
        assert form.validate_on_submit() is False
        assert form.form_errors == ["root may not sign up."]
        assert list(form.errors.values()) == [["root may not sign up."]]


def test_has_file_fields() -> None:
    class Plain(Form):
        name = StringField()

    class Nested(Form):
        inner = FormField(PersonForm)

    assert PersonForm().has_file_fields
    assert not Plain().has_file_fields
    assert Nested().has_file_fields


def test_file_field_data_is_none_without_a_file(make_app: MakeApp) -> None:
    class Upload(Form):
        file = FileField()
        many = erlen_forms.MultipleFileField()

    empty = FileStorage(io.BytesIO(b""), filename="")
    with make_app(["forms"]).test_request_context("/", method="POST", data={"file": (io.BytesIO(b""), "")}):
        form = Upload()
        assert form.file.data is None
        assert form.many.data == []
    form = Upload(formdata=None)
    form.file.process_formdata([empty])
    assert form.file.data is None


@pytest.mark.parametrize("value", ["sNaN", "-sNaN1"])
def test_signaling_nans_are_invalid_not_an_error(make_app: MakeApp, value: str) -> None:
    class Priced(Form):
        price = DecimalField("Price", [NumberRange(min=0, max=10)])

    with make_app(["forms"]).test_request_context("/", method="POST", data={"price": value}):
        form = Priced()
        assert form.price.data is None
        assert not form.validate_on_submit()
        assert form.errors["price"][0] == "Not a valid decimal value."


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "a\x00b"}, "name"),
        ({"name": "Ada", "address-city": "\x00"}, "address"),
        ({"name": "Ada", "phones-0": "0\x001"}, "phones"),
    ],
)
def test_text_holding_a_nul_character_is_a_field_error(person_client: t.Any, data: dict[str, str], field: str) -> None:
    body = person_client.post("/person", data={"address-city": "Paris", **data}).get_json()
    assert body["valid"] is False
    assert "The text holds a character that is not allowed." in str(body["errors"][field])


def test_text_holding_a_nul_character_in_json_is_a_field_error(person_client: t.Any) -> None:
    body = person_client.post("/person", json={"name": "Ada\u0000", "address": {"city": "Paris"}}).get_json()
    assert body["valid"] is False and body["errors"] == {"name": ["The text holds a character that is not allowed."]}


def test_a_view_adds_a_form_error_that_renders_as_an_alert(make_app: MakeApp) -> None:
    app = make_app(["forms"])

    @app.route("/book", methods=["GET", "POST"])
    def book() -> t.Any:
        from flask import render_template_string

        form = PersonForm()
        if form.validate_on_submit():
            form.add_form_error("The room is taken at that time.")
        page = render_template_string(
            '{% from "forms/macros.html" import render_form %}{{ render_form(form) }}', form=form
        )
        return jsonify({"errors": form.errors, "page": page})

    body = csrf_client_for(app).post("/book", data={"name": "Ada", "address-city": "Paris"}).get_json()
    assert body["errors"] == {"": ["The room is taken at that time."]}
    assert 'role="alert"' in body["page"] and "The room is taken at that time." in body["page"]


class TokenNamedForm(Form):
    csrf_token = StringField("Token")
    name = StringField("Name")


class CustomTokenNamedForm(Form):
    token = StringField("Token")


class HoldsTokenNamedForm(Form):
    inner = FormField(TokenNamedForm)


@pytest.mark.parametrize(
    ("config", "form_class", "kwargs", "refused"),
    [
        ({}, TokenNamedForm, {}, "'csrf_token'"),
        ({"FORMS_CSRF_FIELD_NAME": "token"}, CustomTokenNamedForm, {}, "'token'"),
        # Inputs named "inner-csrf_token" and "p-csrf_token" do not meet the token's.
        ({}, HoldsTokenNamedForm, {}, None),
        ({}, TokenNamedForm, {"prefix": "p"}, None),
        ({"FORMS_CSRF_FIELD_NAME": "token"}, TokenNamedForm, {}, None),
    ],
)
def test_a_form_field_named_like_the_csrf_input_is_refused_naming_the_form_and_the_setting(
    make_app: MakeApp, config: dict[str, t.Any], form_class: type[Form], kwargs: dict[str, t.Any], refused: str | None
) -> None:
    """Such a field would read the token as its value, and the page would send two inputs of that name (the CSRF
    check could read the field's text instead of the token)."""
    app = make_app(["forms"], config)
    with app.test_request_context("/", method="POST", data={"csrf_token": "x", "token": "y", "name": "n"}):
        if refused is None:
            form_class(**kwargs)
            return
        with pytest.raises(erlen_forms.FormDefinitionError) as caught:
            form_class(**kwargs)
    message = str(caught.value)
    assert form_class.__qualname__ in message
    assert refused in message
    assert "FORMS_CSRF_FIELD_NAME" in message
