"""Property-based tests: arbitrary data posted to forms never gets a 500."""

from __future__ import annotations

import io
import typing as t
from pathlib import Path

import pytest
from flask import Flask, jsonify, render_template_string
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    FieldList,
    FloatField,
    FormField,
    HiddenField,
    IntegerField,
    IntegerRangeField,
    MonthField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TimeField,
)
from wtforms.validators import URL, DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

import erlen
from erlen.testing import TESTING_SECRET_KEY
from erlen_forms import FileAllowed, FileField, FileRequired, FileSize, Form, MultipleFileField
from erlen_forms.testing import csrf_token_for

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


class Line(Form):
    product = StringField("Product", [DataRequired(), Length(max=20)])
    quantity = IntegerField("Quantity", [NumberRange(min=1, max=99)])


class Everything(Form):
    name = StringField("Name", [DataRequired(), Length(min=2, max=50)])
    password = PasswordField("Password", [Optional(), Length(min=8)])
    website = StringField("Website", [Optional(), URL()])
    code = StringField("Code", [Optional(), Regexp(r"^[A-Z]{3}-\d+$")])
    age = IntegerField("Age", [Optional(), NumberRange(min=0, max=150)])
    price = DecimalField("Price", [Optional(), NumberRange(min=0, max=1000)], places=2)
    ratio = FloatField("Ratio")
    level = IntegerRangeField("Level", [InputRequired()])
    born = DateField("Born")
    meeting = DateTimeLocalField("Meeting")
    at = TimeField("At")
    month = MonthField("Month")
    agree = BooleanField("Agree")
    color = SelectField("Color", choices=["red", "green"])
    size = RadioField("Size", choices=["s", "m", "l"])
    tags = SelectMultipleField("Tags", choices=["a", "b", "c"])
    coerced = SelectField("Number", choices=["1", "2"], coerce=int)
    secret = HiddenField()
    lines = FieldList(FormField(Line), min_entries=1, max_entries=5)
    address = FormField(Line)
    photo = FileField("Photo", [Optional(), FileAllowed(["png", "jpg"]), FileSize(max_size=2048)])
    documents = MultipleFileField("Documents", [FileAllowed(["pdf", "txt"]), FileSize(max_size=4096)])


class Upload(Form):
    file = FileField("File", [FileRequired(), FileAllowed(["png", "gif", "pdf", "zip"]), FileSize(max_size=1000)])


FIELD_NAMES = [
    "name", "password", "website", "code", "age", "price", "ratio", "level", "born", "meeting", "at", "month",
    "agree", "color", "size", "tags", "coerced", "secret", "lines-0-product", "lines-0-quantity", "lines-1-product",
    "lines-9-quantity", "address-product", "address-quantity", "photo", "documents", "csrf_token",
]  # fmt: skip

PAGE = '{% from "forms/macros.html" import render_form %}{{ render_form(form) }}'


def build_app(tmp: Path) -> Flask:
    app = erlen.create_app(
        "erlen_forms_fuzz",
        {"TESTING": True, "SECRET_KEY": TESTING_SECRET_KEY, "PLUGINS": ["forms"], "FORMS_MAX_UPLOAD_SIZE": 64 * 1024},
        environ={},
        instance_path=str(tmp / "instance"),
    )

    @app.route("/everything", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def everything() -> t.Any:
        form = Everything()
        if form.validate_on_submit():
            return jsonify({name: str(value) for name, value in form.data.items()})
        # Render the form with whatever was submitted: rendering must survive any input too.
        return render_template_string(PAGE, form=form), 422

    @app.post("/upload")
    def upload() -> t.Any:
        form = Upload()
        return ("stored", 201) if form.validate_on_submit() else (jsonify(form.errors), 422)

    return app


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return build_app(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def token_client(fuzz_app: Flask) -> tuple[t.Any, str]:
    client = fuzz_app.test_client()
    return client, csrf_token_for(client)


text = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
    st.sampled_from(["sNaN", "-sNaN1", "NaN", "Infinity", "1e999", "-0", "9" * 40, "2024-02-30", "24:00", "\x00"]),
)
keys = st.one_of(st.sampled_from(FIELD_NAMES), text)
form_data = st.dictionaries(keys, st.lists(text, min_size=1, max_size=3), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.one_of(keys, text), children, max_size=4),
    max_leaves=20,
)
json_objects = st.dictionaries(keys, json_values, max_size=10)
methods = st.sampled_from(["POST", "PUT", "PATCH", "DELETE"])


def check(response: t.Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]


@FUZZ
@given(data=form_data, method=methods)
def test_arbitrary_form_data(token_client: tuple[t.Any, str], data: dict[str, list[str]], method: str) -> None:
    client, token = token_client
    response = client.open("/everything", method=method, data=data, headers={"X-CSRF-Token": token})
    check(response)
    assert response.status_code in (200, 422)


@FUZZ
@given(data=form_data, method=methods)
def test_arbitrary_multipart_data(token_client: tuple[t.Any, str], data: dict[str, list[str]], method: str) -> None:
    client, token = token_client
    response = client.open(
        "/everything", method=method, data=data, content_type="multipart/form-data", headers={"X-CSRF-Token": token}
    )
    check(response)


@FUZZ
@given(payload=st.one_of(json_objects, json_values), method=methods)
def test_arbitrary_json(token_client: tuple[t.Any, str], payload: object, method: str) -> None:
    client, token = token_client
    response = client.open("/everything", method=method, json=payload, headers={"X-CSRF-Token": token})
    check(response)
    assert response.status_code in (200, 422)


files = st.tuples(
    st.binary(max_size=3000),
    st.one_of(st.sampled_from(["a.png", "b.gif", "c.pdf", "d.zip", "e.exe", "", ".png", "x.PNG"]), text),
    st.one_of(st.none(), st.sampled_from(["image/png", "application/pdf", "text/html", "application/octet-stream"])),
)
signatures = st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"%PDF-", b"PK\x03\x04"])


@FUZZ
@given(uploads=st.lists(st.tuples(signatures, files), max_size=3), extra=form_data)
def test_arbitrary_files(
    token_client: tuple[t.Any, str], uploads: list[tuple[bytes, tuple[bytes, str, str | None]]], extra: dict
) -> None:
    client, token = token_client
    for path in ("/upload", "/everything"):
        data: dict[str, t.Any] = dict(extra)
        data["file"] = [
            (io.BytesIO(head + body), name, mimetype) if mimetype else (io.BytesIO(head + body), name)
            for head, (body, name, mimetype) in uploads
        ]
        response = client.post(path, data=data, content_type="multipart/form-data", headers={"X-CSRF-Token": token})
        check(response)


content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data; boundary=",
        "application/json",
        "application/json; charset=latin-1",
        "text/plain",
        "application/octet-stream",
        "",
    ]
)


@FUZZ
@given(body=st.binary(max_size=2000), content_type=content_types, with_token=st.booleans())
def test_arbitrary_bodies(token_client: tuple[t.Any, str], body: bytes, content_type: str, with_token: bool) -> None:
    client, token = token_client
    headers = {"X-CSRF-Token": token} if with_token else {}
    for path in ("/everything", "/upload"):
        response = client.post(path, data=body, content_type=content_type, headers=headers)
        check(response)
        if not with_token:
            assert response.status_code in (400, 413)


@FUZZ
@given(token=st.one_of(text, st.binary(max_size=200).map(lambda b: b.decode("latin-1"))), data=form_data)
def test_arbitrary_tokens_are_refused(fuzz_app: Flask, token: str, data: dict[str, list[str]]) -> None:
    client = fuzz_app.test_client()
    csrf_token_for(client)
    response = client.post("/everything", data={**data, "csrf_token": [token]})
    assert response.status_code == 400
    response = client.post("/everything", data=data, headers={"X-CSRF-Token": token.encode("latin-1", "replace")})
    assert response.status_code == 400
