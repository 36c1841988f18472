"""Foreign-key filters: a select of the related rows' labels, or a search input on big tables; no numeric ids."""

from __future__ import annotations

import re

import sqlalchemy as sa

from erlen_auth.testing import login_as

BOOKS = "/admin/m/library_book/"


def select_of(html: str, name: str) -> str | None:
    found = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.DOTALL)
    return None if found is None else found.group(0)


def test_a_foreign_key_filter_is_a_select_of_labels(admin_client, books, models, db_session):
    ada = db_session.scalar(sa.select(models.Author).where(models.Author.name == "Ada"))
    html = admin_client.get(BOOKS).text
    select = select_of(html, "f_author_id")
    assert select is not None, html
    assert 'id="f_author_id"' in select and '<label for="f_author_id">Author</label>' in html
    assert '<option value="">All</option>' in select
    assert f'<option value="{ada.id}">Ada</option>' in select and ">Grace</option>" in select
    assert '<input type="text" id="f_author_id"' not in html

    filtered = admin_client.get(f"{BOOKS}?f_author_id={ada.id}&per_page=50").text
    assert f'<option value="{ada.id}" selected>Ada</option>' in select_of(filtered, "f_author_id")
    assert len(re.findall(r"<td[^>]*>Book \d\d</td>", filtered)) == 23  # the odd books are Ada's


def test_a_big_related_table_gives_a_search_input_showing_the_chosen_label(
    app, admin_client, books, models, db_session
):
    app.config["FORMS_FK_SELECT_LIMIT"] = 1  # two authors: more than a select lists
    ada = db_session.scalar(sa.select(models.Author).where(models.Author.name == "Ada"))
    html = admin_client.get(f"{BOOKS}?f_author_id={ada.id}").text
    assert select_of(html, "f_author_id") is None
    field = re.search(r'<input[^>]*name="f_author_id"[^>]*>', html).group(0)
    assert 'list="f_author_id-options"' in field and f'value="{ada.id}"' in field
    url = re.search(r'data-erlen-search="([^"]+)"', field).group(1)
    assert url == "/_forms/fk/library_book/author_id"
    assert re.search(rf'<datalist id="f_author_id-options"><option value="{ada.id}">Ada</option></datalist>', html)
    found = admin_client.get(url + "?q=gra", headers={"Accept": "application/json"})
    assert found.status_code == 200 and [row["label"] for row in found.json["results"]] == ["Grace"]


def test_viewers_may_search_a_filter_s_rows(app, client, create_user, db_session, books):
    from erlen_auth import Role, grant

    user = create_user("viewer@example.com", roles=["viewers"])
    role = db_session.scalar(sa.select(Role).where(Role.name == "viewers"))
    grant(role, "admin.access", "admin.library_book.view", app=app)
    db_session.commit()
    login_as(client, user)
    assert client.get("/_forms/fk/library_book/author_id?q=a").status_code == 200
    # Only for models they may view.
    assert client.get("/_forms/fk/library_biography/author_id?q=a").status_code == 403


def test_an_invalid_filter_value_leaves_the_select_on_all(admin_client, books):
    html = admin_client.get(f"{BOOKS}?f_author_id=abc").text
    assert "was ignored" in html
    assert '<option value="">All</option>' in select_of(html, "f_author_id")
    assert " selected>" not in select_of(html, "f_author_id")
