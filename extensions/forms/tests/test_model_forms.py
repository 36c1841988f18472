"""Forms built from SQLAlchemy models; skipped when erlen-db (erlen-forms[models]) is not installed."""

from __future__ import annotations

import datetime
import decimal
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("erlen_db", reason="erlen-db is not installed: model forms need erlen-forms[models]")

import sqlalchemy as sa
import wtforms
from flask import Flask, jsonify, render_template_string
from forms_model_plugin import Author, Odd, Post, Status
from sqlalchemy.orm import Session
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

import erlen_db
import erlen_forms
from erlen.testing import MakeApp
from erlen_forms import ModelForm, ModelFormError, ModelSelectField, Unique, model_form
from erlen_forms.model_forms import DecimalPlaces, Finite, NoNullCharacter
from erlen_forms.testing import assert_csrf_protected, csrf_client_for

PostForm = model_form(Post)
AuthorForm = model_form(Author, exclude=["password_hash"])


@pytest.fixture
def erlen_plugins() -> list[str]:
    return ["forms", "db", "forms_model_plugin"]


@pytest.fixture
def erlen_config(database_url: str, request: pytest.FixtureRequest) -> dict[str, t.Any]:
    # Every model-form test runs on SQLite and PostgreSQL (database_url); PostgreSQL refuses input SQLite takes.
    return {"FORMS_FK_SELECT_LIMIT": 3, "DB_URL": database_url, **getattr(request, "param", {})}


@pytest.fixture
def app(make_app: MakeApp, erlen_plugins: list[str], erlen_config: dict[str, t.Any]) -> Flask:
    app = make_app(erlen_plugins, erlen_config)

    @app.route("/posts/new", methods=["GET", "POST"])
    def new_post() -> t.Any:
        form = PostForm()
        if form.validate_on_submit():
            post = Post()
            form.populate_obj(post)
            erlen_db.session.add(post)
            erlen_db.session.commit()
            return jsonify({"id": post.id})
        page = '{% from "forms/macros.html" import render_form %}{{ render_form(form) }}'
        return render_template_string(page, form=form), (422 if form.is_submitted() else 200)

    @app.route("/authors/<int:author_id>", methods=["POST"])
    def edit_author(author_id: int) -> t.Any:
        author = erlen_db.get_or_404(Author, author_id)
        form = AuthorForm(obj=author)
        if form.validate_on_submit():
            form.populate_obj(author)
            erlen_db.session.commit()
            return jsonify({"name": author.name, "email": author.email})
        return jsonify(form.errors), 422

    return app


def authors(session: Session, count: int) -> list[Author]:
    made = [Author(name=f"Author {i:02d}", email=f"a{i}@example.com") for i in range(count)]
    session.add_all(made)
    session.commit()
    return made


def field(form_class: type[wtforms.Form], name: str) -> t.Any:
    return getattr(form_class, name)


def validator_types(form_class: type[wtforms.Form], name: str) -> list[type]:
    unbound = field(form_class, name)
    return [type(v) for v in unbound.args[1]]


def test_column_types_become_fields() -> None:
    kinds = {name: field(PostForm, name).field_class for name in PostForm.__dict__ if not name.startswith("_")
             if isinstance(getattr(PostForm, name), wtforms.fields.core.UnboundField)}  # fmt: skip
    assert kinds == {
        "title": wtforms.StringField,
        "slug": wtforms.StringField,
        "body": wtforms.TextAreaField,
        "status": wtforms.SelectField,
        "kind": wtforms.SelectField,
        "views": wtforms.IntegerField,
        "rating": wtforms.FloatField,
        "price": wtforms.DecimalField,
        "published": wtforms.BooleanField,
        "published_on": wtforms.DateField,
        "created": wtforms.DateTimeLocalField,
        "at": wtforms.TimeField,
        "ref": wtforms.StringField,
        "author_id": ModelSelectField,
        "editor_id": ModelSelectField,
    }
    assert "id" not in kinds


def test_nullability_and_lengths_become_validators() -> None:
    assert validator_types(PostForm, "title") == [DataRequired, Length, NoNullCharacter]
    assert field(PostForm, "title").args[1][1].max == 200
    assert validator_types(PostForm, "views") == [InputRequired, NumberRange]
    assert field(PostForm, "views").args[1][1].max == 2**31 - 1
    assert validator_types(PostForm, "rating") == [Optional, Finite]
    assert validator_types(PostForm, "price") == [Optional, Finite, NumberRange, DecimalPlaces]
    assert field(PostForm, "price").args[1][3].places == 2
    assert field(PostForm, "price").args[1][2].max == decimal.Decimal("99999999.99")
    assert validator_types(PostForm, "status") == [InputRequired]
    assert validator_types(PostForm, "body") == [Optional, NoNullCharacter]
    assert validator_types(PostForm, "published") == [Optional]
    assert validator_types(PostForm, "slug") == [Optional, Length, NoNullCharacter, Unique]
    assert validator_types(PostForm, "author_id") == [InputRequired]
    assert validator_types(PostForm, "editor_id") == [Optional]
    assert validator_types(AuthorForm, "name") == [DataRequired, Length, NoNullCharacter, Unique]


def test_form_class_attributes() -> None:
    assert PostForm.__name__ == "PostForm"
    assert PostForm.form_id == "model.ft_post"
    assert PostForm.model is Post
    assert issubclass(PostForm, ModelForm)
    assert field(PostForm, "title").kwargs["description"] == "Shown in lists"


def test_options() -> None:
    form = model_form(
        Author,
        only=["email", "name"],
        field_args={"name": {"label": "Full name", "validators": [Length(min=2)]}},
        fields={"extra": wtforms.StringField("Extra")},
        form_id="tests.author",
        name="AuthorEdit",
    )
    assert form.__name__ == "AuthorEdit"
    assert form.form_id == "tests.author"
    assert field(form, "name").args[0] == "Full name"
    assert validator_types(form, "name") == [DataRequired, Length, NoNullCharacter, Unique, Length]
    assert not hasattr(form, "password_hash")
    assert isinstance(getattr(form, "extra"), wtforms.fields.core.UnboundField)  # noqa: B009


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ModelFormError, match="has no column attribute 'nope'"):
        model_form(Author, only=["nope"])
    with pytest.raises(ModelFormError, match="has no column attribute 'nope'"):
        model_form(Author, exclude=["nope"])
    with pytest.raises(ModelFormError, match="not a SQLAlchemy mapped class"):
        model_form(dict)
    with pytest.raises(ModelFormError, match=r"Odd.blob: the column type .* has no form field"):
        model_form(Odd)
    assert model_form(Odd, exclude=["blob"])
    assert model_form(Odd, fields={"blob": erlen_forms.FileField()})


def test_enums_become_selects(app: Flask, db_session: Session) -> None:
    with app.test_request_context("/"):
        form = PostForm()
        html = str(form.status())
        assert '<option value="DRAFT">Draft</option>' in html
        assert '<option value="PUBLISHED">Published</option>' in html
        kind = str(form.kind())
        assert '<option selected value=""></option>' in kind and '<option value="article">article</option>' in kind


def test_foreign_keys_become_selects_below_the_limit(app: Flask, db_session: Session) -> None:
    first, second = authors(db_session, 2)
    with app.test_request_context("/"):
        form = PostForm()
        assert not form.author_id.searching
        assert form.author_id.choices == [(first.id, "Author 00"), (second.id, "Author 01")]
        html = str(form.author_id())
        assert html.startswith('<select id="author_id" name="author_id" required>')
        assert f'<option value="{first.id}">Author 00</option>' in html
        assert '<option value=""></option>' in str(form.editor_id())


def test_a_foreign_key_is_labelled_by_what_it_refers_to() -> None:
    # Found by walking the example app's admin: a note's edit form asked for its "Author id" with a select of
    # the users, where the list and the detail page call the column "Author".
    assert field(PostForm, "author_id").args[0] == "Author"
    assert field(PostForm, "editor_id").args[0] == "Editor"
    assert field(PostForm, "title").args[0] == "Title"


def test_large_related_tables_become_search_fields(app: Flask, db_session: Session) -> None:
    authors(db_session, 10)
    with erlen_db.count_queries(app) as counter, app.test_request_context("/"):
        form = PostForm()
        assert form.author_id.searching
        html = str(form.author_id())
    assert 'data-erlen-search="/_forms/fk/ft_post/author_id"' in html
    assert 'list="author_id-options"' in html
    assert "Author 05" not in html
    assert "/static/plugins/forms/fk-search.js" in html
    # One query, limited to the select limit plus one row: the table is never loaded whole.
    assert counter.count == 1
    assert "LIMIT" in counter.statements[0].upper()


@pytest.mark.parametrize("count", [2, 10], ids=["select", "search"])
def test_restricted_rows_are_the_only_ones_offered_and_accepted(app: Flask, db_session: Session, count: int) -> None:
    """restrict_rows narrows the options, the checked value and the chosen label; a key outside is refused as a
    key no row has, except the value the field's object already holds, which is kept under its bare key."""
    made = authors(db_session, count)
    mine = [author.id for author in made[: count // 2]]  # 1 of 2 (a select), 5 of 10 (past the limit of 3)

    def only_mine(statement: sa.Select[t.Any]) -> sa.Select[t.Any]:
        return statement.where(Author.id.in_(mine))

    outside, missing = made[-1].id, max(author.id for author in made) + 1000
    with app.test_request_context("/", method="POST", data=valid_post(outside)):
        form = PostForm()
        form.author_id.restrict_rows(only_mine)
        assert form.author_id.searching is (count > 3)
        if count <= 3:
            assert form.author_id.choices == [(mine[0], "Author 00")]
        assert not form.validate()
        assert form.author_id.errors == ["Not a valid choice."]
        assert form.author_id.selected_label() is None
    with app.test_request_context("/", method="POST", data=valid_post(missing)):
        form = PostForm()
        form.author_id.restrict_rows(only_mine)
        assert not form.validate() and form.author_id.errors == ["Not a valid choice."]
    with app.test_request_context("/", method="POST", data=valid_post(mine[-1])):
        form = PostForm()
        form.author_id.restrict_rows(only_mine)
        assert form.validate(), form.errors
        assert form.author_id.selected_label() == made[len(mine) - 1].name
    # A post whose author is outside: editing it keeps that author, shown by key and never named.
    post = Post(title="Kept", status="PUBLISHED", views=1, author_id=outside)
    db_session.add(post)
    db_session.commit()
    with app.test_request_context("/", method="POST", data=valid_post(outside)):
        form = PostForm(obj=post)
        form.author_id.restrict_rows(only_mine)
        assert form.validate(), form.errors
        html = str(form.author_id())
        assert f'value="{outside}"' in html and made[-1].name not in html
        assert form.author_id.selected_label() == str(outside)
        assert not form.author_id.mark_if_gone()


def test_a_value_given_by_data_rather_than_the_object_is_not_kept_outside_the_rows(
    app: Flask, db_session: Session
) -> None:
    """Only the value from the form's object (obj=) is kept outside restrict_rows: one given by data= or a keyword
    (a form prefilled from the query string, ?author_id=...) is the user's to choose and is checked like any."""
    made = authors(db_session, 2)
    mine, outside = made[0].id, made[1].id

    def only_mine(statement: sa.Select[t.Any]) -> sa.Select[t.Any]:
        return statement.where(Author.id == mine)

    for prefilled in ({"data": {"author_id": outside}}, {"author_id": outside}):
        with app.test_request_context("/", method="POST", data=valid_post(outside)):
            form = PostForm(**prefilled)
            form.author_id.restrict_rows(only_mine)
            assert not form.validate(), prefilled
            assert form.author_id.errors == ["Not a valid choice."]
            assert outside not in [value for value, _ in form.author_id.choices]


def test_the_search_script_is_served(app: Flask) -> None:
    response = app.test_client().get("/static/plugins/forms/fk-search.js")
    assert response.status_code == 200
    assert b"data-erlen-search" in response.data
    response.close()


def valid_post(author: int, **extra: t.Any) -> dict[str, t.Any]:
    data = {"title": "Hello", "status": "PUBLISHED", "views": "3", "author_id": str(author)}
    data.update(extra)
    return data


def test_a_post_is_created(app: Flask, db_session: Session) -> None:
    (author,) = authors(db_session, 1)
    client = csrf_client_for(app)
    response = client.post(
        "/posts/new",
        data=valid_post(
            author.id,
            price="9.99",
            published="y",
            published_on="2024-05-01",
            created="2024-05-01T10:30",
            at="10:30",
            ref="12345678-1234-5678-1234-567812345678",
            kind="note",
            slug="",
        ),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    post = db_session.get(Post, response.get_json()["id"])
    assert post is not None
    assert (post.title, post.status, post.views, post.author_id) == ("Hello", Status.PUBLISHED, 3, author.id)
    assert post.price == decimal.Decimal("9.99")
    assert post.published is True
    assert post.published_on == datetime.date(2024, 5, 1)
    assert post.slug is None
    assert post.editor_id is None
    assert post.kind == "note"
    assert str(post.ref) == "12345678-1234-5678-1234-567812345678"


@pytest.mark.parametrize("price", ["1.50", "100", "0.000", "-0.1", "1E+2", "99999999.99"])
def test_prices_that_fit_the_scale_are_stored_as_given(app: Flask, db_session: Session, price: str) -> None:
    (author,) = authors(db_session, 1)
    response = csrf_client_for(app).post("/posts/new", data=valid_post(author.id, price=price))
    assert response.status_code == 200, response.get_data(as_text=True)
    post = db_session.get(Post, response.get_json()["id"])
    assert post is not None and post.price == decimal.Decimal(price)


def test_a_post_above_the_limit_is_checked_with_one_query(app: Flask, db_session: Session) -> None:
    made = authors(db_session, 10)
    client = csrf_client_for(app)
    assert client.post("/posts/new", data=valid_post(made[7].id)).status_code == 200
    response = client.post("/posts/new", data=valid_post(99999))
    assert response.status_code == 422
    assert "Not a valid choice." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "This field is required."),
        ({"title": "x" * 201}, "Field cannot be longer than 200 characters."),
        ({"status": "NOPE"}, "Not a valid choice."),
        ({"views": "many"}, "Not a valid integer value."),
        ({"author_id": "abc"}, "Not a valid choice."),
        ({"author_id": ""}, "This field is required."),
        ({"ref": "not-a-uuid"}, "Invalid UUID."),
        ({"views": "9" * 30}, "Number must be between"),
        ({"author_id": "9" * 30}, "Not a valid choice."),
        ({"price": "1e30"}, "Number must be between"),
        ({"price": "NaN"}, "Enter a finite number."),
        # Numeric(10, 2) would round 0.001 to 0.00 and 12.345 to 12.35 without a word.
        ({"price": "0.001"}, "Enter a number with at most 2 digits after the point."),
        ({"price": "12.345"}, "Enter a number with at most 2 digits after the point."),
        ({"rating": "inf"}, "Enter a finite number."),
        ({"title": "a\x00b"}, "The text holds a character that is not allowed."),
    ],
)
def test_invalid_posts(app: Flask, db_session: Session, changes: dict[str, str], message: str) -> None:
    (author,) = authors(db_session, 1)
    response = csrf_client_for(app).post("/posts/new", data=valid_post(author.id, **changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_unique_columns_are_checked_in_the_database(app: Flask, db_session: Session) -> None:
    first, second = authors(db_session, 2)
    client = csrf_client_for(app)
    response = client.post(f"/authors/{second.id}", data={"name": first.name})
    assert response.status_code == 422
    assert response.get_json() == {"name": ["This value is already taken."]}
    # The edited row keeps its own value.
    response = client.post(f"/authors/{second.id}", data={"name": second.name, "email": "new@example.com"})
    assert response.get_json() == {"name": "Author 01", "email": "new@example.com"}
    response = client.post(f"/authors/{second.id}", data={"name": "Brand new"})
    # Fields left out of the submission keep the object's value.
    assert response.get_json() == {"name": "Brand new", "email": "new@example.com"}


def test_unique_on_a_new_row(app: Flask, db_session: Session) -> None:
    (author,) = authors(db_session, 1)
    client = csrf_client_for(app)
    assert client.post("/posts/new", data=valid_post(author.id, slug="hello")).status_code == 200
    response = client.post("/posts/new", data=valid_post(author.id, slug="hello"))
    assert response.status_code == 422
    assert "This value is already taken." in response.get_data(as_text=True)


def search(client: t.Any, query: str = "", path: str = "/_forms/fk/ft_post/author_id") -> t.Any:
    return client.get(path, query_string={"q": query}, headers={"Accept": "application/json"})


def test_search_is_refused_unless_allowed(app: Flask, db_session: Session) -> None:
    response = search(app.test_client(), "Author")
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"


@pytest.mark.parametrize("erlen_config", [{"FORMS_FK_SEARCH_PUBLIC": True}], indirect=True)
def test_search_finds_rows_by_label_or_key(app: Flask, db_session: Session) -> None:
    made = authors(db_session, 12)
    client = app.test_client()
    body = search(client, "thor 1").get_json()
    assert body == {"results": [{"value": str(a.id), "label": a.name} for a in made[10:12]]}
    body = search(client, str(made[3].id)).get_json()
    assert {"value": str(made[3].id), "label": "Author 03"} in body["results"]
    assert search(client, "%").get_json() == {"results": []}
    assert search(client, "_").get_json() == {"results": []}
    assert len(search(client, "").get_json()["results"]) == 12
    assert len(client.get("/_forms/fk/ft_post/author_id?limit=5").get_json()["results"]) == 5
    assert len(client.get("/_forms/fk/ft_post/author_id?limit=x").get_json()["results"]) == 12
    # Labels never come from columns that hold secrets.
    assert "password" not in search(client, "").get_data(as_text=True)


@pytest.mark.parametrize("erlen_config", [{"FORMS_FK_SEARCH_PUBLIC": True}], indirect=True)
@pytest.mark.parametrize("query", ["\x00", "Author\x000", "1\x00"])
def test_search_text_with_a_nul_character_finds_nothing(app: Flask, db_session: Session, query: str) -> None:
    # PostgreSQL refuses NUL in any text parameter; no stored label or key can hold one anyway.
    authors(db_session, 2)
    response = search(app.test_client(), query)
    assert response.status_code == 200
    assert response.get_json() == {"results": []}


@pytest.mark.parametrize("erlen_config", [{"FORMS_FK_SEARCH_PUBLIC": True}], indirect=True)
def test_search_of_unknown_keys(app: Flask, db_session: Session) -> None:
    client = app.test_client()
    assert search(client, path="/_forms/fk/nope/author_id").status_code == 404
    assert search(client, path="/_forms/fk/ft_post/title").status_code == 404
    assert search(client, path="/_forms/fk/ft_post/nope").status_code == 404


@pytest.mark.parametrize(
    "erlen_plugins", [["forms", "db", "forms_model_plugin", "forms_search_guard_plugin"]], indirect=False
)
def test_a_plugin_decides_who_may_search(app: Flask, db_session: Session) -> None:
    authors(db_session, 2)
    client = app.test_client()
    assert search(client, "Author").status_code == 403
    assert len(client.get("/_forms/fk/ft_post/author_id?staff=1").get_json()["results"]) == 2
    # A plugin narrows the rows (the admin's row scope): the search text and limit apply within them.
    narrowed = client.get("/_forms/fk/ft_post/author_id?staff=1&only=Author 01&q=Author").get_json()["results"]
    assert [row["label"] for row in narrowed] == ["Author 01"]


@pytest.mark.parametrize(
    "erlen_plugins",
    [["forms", "db", "forms_model_plugin", "forms_search_guard_plugin", "forms_search_exclude_plugin"]],
    indirect=False,
)
def test_every_plugin_s_narrowing_of_the_search_applies(app: Flask, db_session: Session) -> None:
    """Two plugins narrow the same search: a row is returned only if both keep it (the first plugin's answer used
    to replace the other's, so a plugin's own rule could undo the admin's row scope)."""
    authors(db_session, 3)
    client = app.test_client()
    found = client.get("/_forms/fk/ft_post/author_id?staff=1&only=Author 01&not=Author 01").get_json()["results"]
    assert found == []
    found = client.get("/_forms/fk/ft_post/author_id?staff=1&not=Author 01").get_json()["results"]
    assert [row["label"] for row in found] == ["Author 00", "Author 02"]
    found = client.get("/_forms/fk/ft_post/author_id?staff=1&only=Author 02&not=Author 01").get_json()["results"]
    assert [row["label"] for row in found] == ["Author 02"]


def test_model_forms_can_be_extended(app: Flask, db_session: Session) -> None:
    assert PostForm.form_id == "model.ft_post"
    with app.app_context():
        assert type(PostForm()) is PostForm


def test_every_route_with_db_enabled_is_protected(app: Flask, db_session: Session) -> None:
    results = assert_csrf_protected(app)
    assert {(r.endpoint, r.method) for r in results} >= {("new_post", "POST"), ("edit_author", "POST")}


def test_label_column_avoids_secrets() -> None:
    from erlen_forms.model_forms import label_column

    table = sa.Table(
        "secretive", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("api_key", sa.String(20))
    )
    assert label_column(table).name == "id"
    assert label_column(Author.__table__).name == "name"  # type: ignore[arg-type]


text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
values = st.one_of(
    text,
    st.integers().map(str),
    st.sampled_from(["", "0", "-1", "9" * 30, "1e400", "nan", "inf", "2024-02-30", "DRAFT", "PUBLISHED", "\x00"]),
)
post_fields = st.sampled_from(
    ["title", "slug", "body", "status", "kind", "views", "rating", "price", "published", "published_on", "created",
     "at", "ref", "author_id", "editor_id"]
)  # fmt: skip


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.dictionaries(post_fields, st.lists(values, min_size=1, max_size=2), max_size=15))
def test_arbitrary_data_posted_to_a_model_form(app: Flask, db_session: Session, data: dict[str, list[str]]) -> None:
    if db_session.scalar(sa.select(sa.func.count()).select_from(Author)) == 0:
        authors(db_session, 5)
    client = csrf_client_for(app)
    response = client.post("/posts/new", data=data)
    assert response.status_code in (200, 422), response.get_data(as_text=True)[:300]
    assert client.post(f"/authors/{data.get('views', ['1'])[0][:5]}", data=data).status_code < 500


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [
        ("password_hash", True),
        ("session_token", True),
        ("api_key", True),
        ("key", True),
        ("API-Key", True),
        ("keyword", False),
        ("monkey", False),
        ("title", False),
    ],
)
def test_which_column_names_hold_secrets(name: str, sensitive: bool) -> None:
    from erlen_forms.model_forms import is_sensitive

    assert is_sensitive(name) is sensitive
