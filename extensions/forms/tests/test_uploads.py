from __future__ import annotations

import io
import typing as t

import pytest
from flask import Flask, jsonify, request
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from erlen.testing import MakeApp
from erlen_forms import FileAllowed, FileField, FileRequired, FileSize, Form, MultipleFileField
from erlen_forms.testing import csrf_client_for, csrf_token_for
from erlen_forms.uploads import extension_of, file_size

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100
PDF = b"%PDF-1.7\n" + b"\x00" * 100


class AvatarForm(Form):
    avatar = FileField("Avatar", [FileRequired(), FileAllowed(["png", "jpg", "jpeg"]), FileSize(max_size=1024)])
    attachments = MultipleFileField("Attachments", [FileAllowed(["pdf", "txt"]), FileSize(max_size=2048)])


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    app = make_app(["forms"], {"FORMS_MAX_UPLOAD_SIZE": 64 * 1024})

    @app.post("/avatar")
    def avatar() -> t.Any:
        form = AvatarForm()
        if form.validate_on_submit():
            stored = form.avatar.data.read()
            return jsonify({"size": len(stored), "attachments": [f.filename for f in form.attachments.data]})
        return jsonify({"errors": form.errors}), 422

    return app


@pytest.fixture
def client(app: Flask) -> t.Any:
    return csrf_client_for(app)


def post(client: t.Any, **files: t.Any) -> t.Any:
    return client.post("/avatar", data=files, content_type="multipart/form-data")


def file(content: bytes, name: str, mimetype: str | None = None) -> FileStorage:
    return FileStorage(io.BytesIO(content), filename=name, content_type=mimetype)


def test_a_valid_upload(client: t.Any) -> None:
    response = post(
        client, avatar=file(PNG, "me.png", "image/png"), attachments=[file(PDF, "cv.pdf"), file(b"hi", "a.txt")]
    )
    assert response.status_code == 200, response.get_json()
    # The size check rewinds the stream: the view reads the whole file.
    assert response.get_json() == {"size": len(PNG), "attachments": ["cv.pdf", "a.txt"]}


def test_a_missing_file(client: t.Any) -> None:
    response = post(client)
    assert response.get_json()["errors"] == {"avatar": ["Choose a file to upload."]}
    response = post(client, avatar=file(b"", ""))
    assert response.get_json()["errors"] == {"avatar": ["Choose a file to upload."]}


def test_a_file_too_large(client: t.Any) -> None:
    response = post(client, avatar=file(PNG + b"\x00" * 2000, "me.png", "image/png"))
    assert response.get_json()["errors"] == {"avatar": ["The file must be at most 1.0 KB."]}


def test_a_wrong_extension(client: t.Any) -> None:
    response = post(client, avatar=file(PNG, "me.gif", "image/gif"))
    assert response.get_json()["errors"] == {"avatar": ["Only files of these types are accepted: png, jpg, jpeg."]}
    response = post(client, avatar=file(PNG, "noextension"))
    assert response.status_code == 422


def test_a_declared_type_that_does_not_match_the_extension(client: t.Any) -> None:
    response = post(client, avatar=file(PNG, "me.png", "text/html"))
    assert response.get_json()["errors"] == {"avatar": ["The file's content does not match its type (png)."]}


def test_content_that_does_not_match_the_extension(client: t.Any) -> None:
    response = post(client, avatar=file(b"<html><script>", "me.png", "image/png"))
    assert response.get_json()["errors"] == {"avatar": ["The file's content does not match its type (png)."]}
    response = post(client, avatar=file(PNG, "me.jpg", "application/octet-stream"))
    assert response.status_code == 422


def test_aliases_and_generic_types_are_accepted(client: t.Any) -> None:
    assert post(client, avatar=file(JPEG, "me.JPG", "image/jpg")).status_code == 200
    assert post(client, avatar=file(JPEG, "me.jpeg", "application/octet-stream")).status_code == 200


def test_one_bad_file_among_many(client: t.Any) -> None:
    response = post(client, avatar=file(PNG, "me.png"), attachments=[file(PDF, "a.pdf"), file(b"MZ", "b.exe")])
    assert response.get_json()["errors"] == {"attachments": ["Only files of these types are accepted: pdf, txt."]}


def test_content_check_can_be_turned_off(make_app: MakeApp) -> None:
    class Loose(Form):
        doc = FileField(validators=[FileAllowed(["png"], check_content=False)])

    with make_app(["forms"]).test_request_context(
        "/", method="POST", data={"doc": (io.BytesIO(b"text"), "x.png", "text/plain")}
    ):
        assert Loose().validate()


def test_a_custom_message_gets_the_extensions(make_app: MakeApp) -> None:
    class Custom(Form):
        doc = FileField(validators=[FileAllowed(["png"], message="Send a picture (%(extensions)s).")])

    for name, expected in (("x.exe", "Send a picture (png)."), ("x.png", "Send a picture (png).")):
        with make_app(["forms"]).test_request_context(
            "/", method="POST", data={"doc": (io.BytesIO(b"MZ"), name, "application/octet-stream")}
        ):
            form = Custom()
            assert not form.validate()
            assert form.errors == {"doc": [expected]}


@pytest.mark.parametrize(
    ("content", "valid"),
    [
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20, True),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20, False),  # a WAV file is a RIFF container too
        (b"RIFF", False),
    ],
)
def test_webp_content_is_told_from_other_riff_files(make_app: MakeApp, content: bytes, valid: bool) -> None:
    class Picture(Form):
        image = FileField(validators=[FileAllowed(["webp"])])

    with make_app(["forms"]).test_request_context(
        "/", method="POST", data={"image": (io.BytesIO(content), "x.webp", "image/webp")}
    ):
        assert Picture().validate() is valid


def test_validator_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one extension"):
        FileAllowed([])
    with pytest.raises(ValueError, match="max_size must be at least min_size"):
        FileSize(max_size=1, min_size=2)


def test_min_size(make_app: MakeApp) -> None:
    class Sized(Form):
        doc = FileField(validators=[FileSize(max_size=100, min_size=10)])

    with make_app(["forms"]).test_request_context("/", method="POST", data={"doc": (io.BytesIO(b"tiny"), "x.txt")}):
        form = Sized()
        assert not form.validate()
        assert form.errors == {"doc": ["The file must be at least 10 bytes."]}


def test_file_size_reads_a_bounded_amount() -> None:
    stream = io.BytesIO(b"x" * 10_000)
    stream.seek(3)
    storage = FileStorage(stream, filename="a.txt")
    assert file_size(storage, 100) == 101
    assert stream.tell() == 3
    assert file_size(storage, 100_000) == 9_997


@pytest.mark.parametrize(
    ("name", "extension"),
    [
        ("a.PNG", "png"),
        ("a.tar.gz", "gz"),
        ("noext", ""),
        (".hidden", ""),
        ("dir/a.txt", "txt"),
        ("C:\\x\\b.Pdf", "pdf"),
    ],
)
def test_extension_of(name: str, extension: str) -> None:
    assert extension_of(name) == extension


def test_an_oversized_multipart_upload_gets_a_413_page(app: Flask) -> None:
    client = app.test_client()
    token = csrf_token_for(client)
    big = io.BytesIO(b"\x00" * (100 * 1024))
    response = client.post(
        "/avatar",
        data={"csrf_token": token, "avatar": (big, "huge.png", "image/png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "The upload is too large" in page
    assert "larger than the limit of 64 KB" in page


def test_an_oversized_upload_with_a_header_token_gets_a_413(app: Flask) -> None:
    # The token is in a header, so the CSRF check does not read the body: the view's form does.
    client = csrf_client_for(app)
    response = client.post(
        "/avatar",
        data={"avatar": (io.BytesIO(b"\x00" * (100 * 1024)), "huge.png")},
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 413
    assert response.get_json() == {
        "error": "too_large",
        "message": "The request is larger than the limit of 64 KB.",
        "max_size": 64 * 1024,
    }


def test_an_oversized_upload_without_a_token_gets_a_413_not_a_crash(app: Flask) -> None:
    response = app.test_client().post(
        "/avatar", data={"avatar": (io.BytesIO(b"\x00" * (100 * 1024)), "huge.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == 413


def multipart(values: dict[str, t.Any]) -> dict[str, t.Any]:
    """Keyword arguments posting ``values`` as a multipart body held in memory (no temporary file left open)."""
    boundary, body = encode_multipart(MultiDict(values))
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def test_a_text_field_over_flasks_form_limit_gets_a_413_that_says_so(make_app: MakeApp) -> None:
    # The body is far below FORMS_MAX_UPLOAD_SIZE (16 MiB) but one multipart text field is over Flask's
    # MAX_FORM_MEMORY_SIZE (500,000 bytes by default): the page must not claim the request is over 16 MB.
    app = make_app(["forms"])

    @app.post("/article")
    def post_article() -> str:
        return str(len(request.form["body"]))

    client = csrf_client_for(app)
    expected = "A text field of the form is longer than the limit of 488 KB, or the form has more than 1000 fields."
    fields = {"body": "x" * 600_000, "cover": file(PNG, "cover.png", "image/png")}
    response = client.post("/article", **multipart(fields))
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "16.0 MB" not in page
    assert expected in page
    fields["cover"] = file(PNG, "cover.png", "image/png")
    response = client.post("/article", **multipart(fields), headers={"Accept": "application/json"})
    assert response.get_json() == {
        "error": "too_large",
        "message": expected,
        "max_size": 16 * 1024 * 1024,
        "max_field_size": 500_000,
        "max_fields": 1000,
    }
    assert client.post("/article", **multipart({"body": "x" * 400_000})).data == b"400000"


def test_the_limit_sets_max_content_length(make_app: MakeApp) -> None:
    assert make_app(["forms"]).config["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    assert make_app(["forms"], {"FORMS_MAX_UPLOAD_SIZE": 10}).config["MAX_CONTENT_LENGTH"] == 10
    assert make_app(["forms"], {"FORMS_MAX_UPLOAD_SIZE": None}).config["MAX_CONTENT_LENGTH"] is None
    # An app that sets Flask's own key keeps it.
    assert make_app(["forms"], {"MAX_CONTENT_LENGTH": 5}).config["MAX_CONTENT_LENGTH"] == 5


def test_the_413_page_can_be_overridden(make_app: MakeApp, tmp_path: t.Any) -> None:
    (tmp_path / "t" / "forms").mkdir(parents=True)
    (tmp_path / "t" / "forms" / "too_large.html").write_text("too big: {{ limit }}")
    app = make_app(["forms"], {"FORMS_MAX_UPLOAD_SIZE": 100}, template_folder=str(tmp_path / "t"))

    @app.post("/up")
    def up() -> str:
        return str(len(request.files))

    client = csrf_client_for(app)
    response = client.post("/up", data={"f": (io.BytesIO(b"x" * 500), "f.txt")}, content_type="multipart/form-data")
    assert response.status_code == 413
    assert response.data == b"too big: 100"
