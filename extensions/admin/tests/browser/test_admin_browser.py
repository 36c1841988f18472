"""The admin in a real browser: log in, create, edit, search, sort, page, bulk-delete, audit log, inert XSS."""

from __future__ import annotations

import re
import typing as t

try:
    # expect() waits for what a click brings; is_visible() would look once, before the page has answered.
    from playwright.sync_api import expect
except ImportError:  # the page fixture says so: a skip, or a failure where services are required
    expect = None

from .conftest import PASSWORD


def log_in(page: t.Any) -> None:
    page.goto("/admin/")
    assert "/auth/login" in page.url  # anonymous: sent to log in, with next
    page.shot("login")
    page.get_by_label("Email").fill("root@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(re.compile(r".*/admin/$"))
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.shot("dashboard")


def titles(page: t.Any) -> list[str]:
    cells = page.locator("table.admin-table tbody tr td:nth-child(3)").all_inner_texts()
    return [cell.strip() for cell in cells]


def test_admin_workflow(page: t.Any) -> None:
    log_in(page)

    # Create an author, then a book by that author (the foreign key is a select).
    nav = page.get_by_role("navigation", name="Admin sections")
    nav.get_by_role("link", name="Authors").click()
    page.get_by_role("link", name="Add author").click()
    page.get_by_label("Name").fill("Barbara")
    page.shot("create-author")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("created.")).to_be_visible()
    page.goto("/admin/m/library_book/new")
    page.get_by_label("Title").fill("The Art of Testing")
    page.get_by_label("Pages").fill("321")
    page.get_by_label("Author").select_option(label="Barbara")
    page.shot("create-book")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="The Art of Testing")).to_be_visible()
    page.shot("created-book")

    # Inline errors, then an edit.
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Title").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.locator('[aria-invalid="true"]').first).to_be_visible()
    page.shot("edit-errors")
    page.get_by_label("Title").fill("The Art of Browser Testing")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="The Art of Browser Testing")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Barbara"))).to_be_visible()  # the foreign key is a link

    # Search.
    page.goto("/admin/m/library_book/")
    page.get_by_label("Search").fill("Book 1")
    page.get_by_role("button", name="Apply").click()
    assert sorted(titles(page)) == [f"Book {n:02d}" for n in range(10, 20)]
    page.shot("search")

    # Sort by title, then page forward and back.
    page.goto("/admin/m/library_book/")
    page.get_by_role("link", name="Title", exact=True).click()
    first = titles(page)
    assert first == sorted(first) and first[0] == "Book 01"
    page.shot("sorted")
    page.get_by_role("link", name="Next →").click()
    second = titles(page)
    assert second[0] == "Book 21" and "Page 2." in page.locator("#summary").inner_text()
    page.shot("page-2")
    page.get_by_role("link", name="Next →").click()
    third = titles(page)
    assert third[0] == "Book 41"
    page.get_by_role("link", name="← Previous").click()
    assert titles(page) == second
    page.get_by_role("link", name="← Previous").click()
    assert titles(page) == first
    page.shot("back-to-page-1")

    # Bulk-delete two books, through the confirmation step.
    page.get_by_label("Select book", exact=False).first.check()
    page.locator('input[name="ids"]').nth(1).check()
    page.get_by_label("With selected").select_option("delete")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_role("heading", name=re.compile("Delete selected: 2"))).to_be_visible()
    page.shot("bulk-confirm")
    page.get_by_role("button", name="Yes, delete selected").click()
    expect(page.get_by_text("Deleted 2")).to_be_visible()
    assert "Book 01" not in titles(page) and "Book 02" not in titles(page)
    page.shot("bulk-deleted")

    # The audit log shows all of it.
    page.get_by_role("navigation", name="Admin sections").get_by_role("link", name="Audit log").click()
    log = page.locator("table.admin-table tbody").inner_text()
    for action in ("create", "edit", "bulk:delete"):
        assert action in log
    assert "root@example.com" in log
    page.shot("audit-log")


def test_keyboard_only_navigation(page: t.Any) -> None:
    log_in(page)
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert "Skip to content" in focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.shot("skip-link")


def test_xss_payload_stays_inert(page: t.Any) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page)
    payload = '<script>alert("xss")</script><img src=x onerror="alert(1)">'
    page.goto("/admin/m/library_author/new")
    page.get_by_label("Name").fill(payload)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name=payload)).to_be_visible()  # shown as text
    page.shot("xss-detail")
    page.goto("/admin/m/library_author/?sort=-id")
    expect(page.get_by_text(payload).first).to_be_visible()
    page.shot("xss-list")
    page.goto("/admin/m/audit/")
    page.shot("xss-audit")
    page.wait_for_timeout(300)  # give any injected script a chance to run
    assert dialogs == []
    assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0


def test_responsive_on_a_phone(page: t.Any) -> None:
    log_in(page)
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/admin/", "/admin/m/library_book/", "/admin/m/library_book/1/", "/admin/m/library_book/1/edit"):
        page.goto(path)
        # Nothing sticks out sideways: wide tables scroll inside their own box.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    page.goto("/admin/m/library_book/")
    page.shot("phone-list")
    page.goto("/admin/m/library_book/1/")
    page.shot("phone-detail")


def test_dashboard_fk_filter_and_audit_changes_by_keyboard(page: t.Any) -> None:
    log_in(page)
    chart = page.get_by_role("img", name=re.compile("Changes made through the admin per day"))
    expect(chart).to_be_visible()
    # The author filter is a select of names, chosen with the keyboard alone.
    page.goto("/admin/m/library_book/")
    page.get_by_label("Author").focus()
    page.keyboard.press("End")  # the last author by name: Grace
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Apply").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*f_author_id=\d+.*"))
    expect(page.get_by_label("Author")).to_have_value(re.compile(r"\d+"))
    assert page.locator("#f_author_id option:checked").inner_text() == "Grace"
    assert all("Grace" in cell for cell in page.locator("table.admin-table tbody td:nth-child(6)").all_inner_texts())
    page.shot("fk-filter")
    # An edit, then its audit entry's before/after table.
    page.goto("/admin/m/library_book/1/edit")
    page.get_by_label("Title").fill("Book 01, revised")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Book 01, revised saved.")).to_be_visible()
    page.goto("/admin/m/audit/")
    page.get_by_role("link", name=re.compile(r"^View audit entry")).first.click()
    table = page.locator("table.changes-table")
    expect(table.get_by_role("row", name=re.compile("Title Book 01 Book 01, revised"))).to_be_visible()
    page.shot("audit-changes")
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 800})
        for path, name in (("/admin/", "dashboard"), ("/admin/m/library_book/?f_author_id=2", "list-filter")):
            page.goto(path)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), (path, width)
            page.shot(f"{name}-{width}")


def test_the_activity_chart_dates_read_on_a_phone(page: t.Any) -> None:
    """The chart's first and last days are as tall as the admin's other small print at every width.

    Drawn in the SVG, they shrank with it: 7.5 px on a phone, where the chart is 300 px wide.
    """
    import datetime as dt

    log_in(page)
    today = dt.datetime.now(dt.UTC).date()
    chart = page.locator("figure.chart")
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto("/admin/")
        for day in (today - dt.timedelta(days=13), today):
            label = chart.get_by_text(f"{day:%b} {day.day}", exact=True)
            box = label.bounding_box()
            assert box is not None and box["height"] >= 12, (width, day, box)
        page.shot(f"activity-{width}")
