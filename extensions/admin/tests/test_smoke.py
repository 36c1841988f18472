from __future__ import annotations


def test_list_page(admin_client, books):
    response = admin_client.get("/admin/m/library_book/")
    assert response.status_code == 200, response.text
    assert "Book 45" in response.text


def test_the_header_links_to_the_site(app, admin_client, db_session):
    assert '<a href="/" class="view-site">View site</a>' in admin_client.get("/admin/").text
    app.config["ADMIN_SITE_URL"] = "https://www.example.com/"
    assert '<a href="https://www.example.com/" class="view-site">View site</a>' in admin_client.get("/admin/").text
    app.config["ADMIN_SITE_URL"] = ""
    assert "View site" not in admin_client.get("/admin/").text
