from __future__ import annotations


def test_list_page(admin_client, books):
    response = admin_client.get("/admin/m/library_book/")
    assert response.status_code == 200, response.text
    assert "Book 45" in response.text
