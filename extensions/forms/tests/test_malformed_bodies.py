"""A form body that cannot be parsed is a 400 saying why, never an empty form saved over the stored values."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask, jsonify, request
from wtforms import StringField

from erlen.testing import MakeApp
from erlen_forms import Form
from erlen_forms.testing import csrf_client_for

PART = b'--x\r\nContent-Disposition: form-data; name="nickname"\r\n\r\nAda\r\n'


class ProfileForm(Form):
    nickname = StringField("Nickname")
    motto = StringField("Motto")


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    app = make_app(["forms"])
    stored = {"nickname": "ada", "motto": "Analytical"}

    @app.get("/profile")
    def show_profile() -> t.Any:
        return jsonify(stored)

    @app.post("/profile")
    def edit_profile() -> t.Any:
        form = ProfileForm()
        if form.validate_on_submit():
            stored.update(form.data)  # every field optional: an empty form would blank both
        return jsonify(stored)

    @app.post("/raw")
    def raw() -> t.Any:
        return jsonify(sorted(request.form))

    return app


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("multipart/form-data", PART + b"--x--\r\n", "Missing boundary"),
        ("multipart/form-data; boundary=x", PART[:-6], "cannot parse beyond"),  # cut off in the middle
        ("multipart/form-data; boundary=y", PART + b"--x--\r\n", "cannot parse beyond"),  # another boundary
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Type: text/plain\r\n\r\nA\r\n--x--\r\n", "Disposition"),
    ],
    ids=["no-boundary", "truncated", "wrong-boundary", "no-disposition"],
)
@pytest.mark.parametrize("path", ["/profile", "/raw"])
def test_a_malformed_multipart_body_is_a_400_with_the_reason(
    app: Flask, content_type: str, body: bytes, reason: str, path: str
) -> None:
    client = csrf_client_for(app)
    response = client.post(path, data=body, content_type=content_type, headers={"Accept": "application/json"})
    assert response.status_code == 400, response.get_data(as_text=True)
    message = response.get_data(as_text=True)
    assert "The request body is not valid multipart/form-data" in message and reason in message
    # The stored values were not blanked by an empty form.
    assert client.get("/profile").get_json() == {"nickname": "ada", "motto": "Analytical"}


def test_well_formed_and_empty_bodies_still_parse(app: Flask) -> None:
    client = csrf_client_for(app)
    ok = client.post("/raw", data=PART + b"--x--\r\n", content_type="multipart/form-data; boundary=x")
    assert ok.status_code == 200 and ok.get_json() == ["nickname"]
    empty = client.post("/raw", data=b"", content_type="multipart/form-data; boundary=x")
    assert empty.status_code == 200 and empty.get_json() == []
    form = client.post("/raw", data={"a": "1", "b": "2"})
    assert form.get_json() == ["a", "b"]


def test_an_apps_own_form_parser_is_kept_and_made_strict(make_app: MakeApp) -> None:
    from flask import Request
    from werkzeug.formparser import FormDataParser

    from erlen_forms.malformed_bodies import strict_request_class

    class TaggingParser(FormDataParser):
        """An app's parser: notes each form it reads (an app may read another form type this way)."""

        def parse(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
            stream, form, files = super().parse(*args, **kwargs)
            return stream, form.copy() | {"parsed_by": "tagging"}, files

    class AppRequest(Request):
        form_data_parser_class = TaggingParser

    strict = strict_request_class(AppRequest)
    assert issubclass(strict, AppRequest) and issubclass(strict.form_data_parser_class, TaggingParser)
    assert strict_request_class(strict) is strict
    app = make_app(["forms"])
    app.request_class = strict

    @app.post("/raw")
    def raw() -> t.Any:
        return jsonify(sorted(request.form.items()))

    client = csrf_client_for(app)
    ok = client.post("/raw", data=PART + b"--x--\r\n", content_type="multipart/form-data; boundary=x")
    assert ok.get_json() == [["nickname", "Ada"], ["parsed_by", "tagging"]]
    cut = client.post("/raw", data=PART[:-6], content_type="multipart/form-data; boundary=x")
    assert cut.status_code == 400 and "cannot parse beyond" in cut.text
