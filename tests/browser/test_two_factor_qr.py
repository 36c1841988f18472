"""The two-factor set-up page's QR code scans in both colour schemes: dark modules on white, with a quiet zone.

Served as in ``test_example_e2e.py``; the pixels are those of Chromium's screenshot of the code, decoded by a
canvas of the page itself (no image library needed).
"""

from __future__ import annotations

import base64
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_example_e2e import Site

#: The red, green and blue of the screenshot's pixel at (x, y), read back through a canvas.
PIXEL = """async ([png, x, y]) => {
    const image = new Image();
    image.src = "data:image/png;base64," + png;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    return Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3));
}"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")
    served = Site(tmp_path)
    try:
        yield served
    finally:
        served.close()


#: How wide the code's drawing shows, in CSS pixels, and how wide its box is: a drawing wider than its box is cut.
DRAWN_AND_BOX = """(svg) => [svg.getBBox().width * svg.getScreenCTM().a, svg.getBoundingClientRect().width]"""


@pytest.mark.parametrize(("scheme", "width"), [("light", 1280), ("dark", 1280), ("dark", 360)])
def test_the_qr_code_shows_whole_dark_on_white_with_a_quiet_zone(
    browser: t.Any, site: Site, scheme: str, width: int
) -> None:
    """Scanners need a light margin round the code: on the dark scheme's page a transparent one was black.

    On a phone the code shrinks to fit its column: with no viewBox it kept its size and was cut at the right.
    """
    page = browser.new_context(color_scheme=scheme, viewport={"width": width, "height": 800}).new_page()
    page.goto(site.url + "/auth/login?next=/auth/two-factor/setup")
    page.get_by_label("Email").fill(site.admin_email)
    page.get_by_label("Password").fill(site.admin_password)
    page.get_by_role("button", name="Log in", exact=True).click()
    code = page.locator("svg.erlen-auth-qr-code")
    code.wait_for()
    drawn, box_width = code.evaluate(DRAWN_AND_BOX)
    assert drawn <= box_width + 0.5, (width, drawn, box_width)
    png = base64.b64encode(code.screenshot()).decode()
    box = code.bounding_box()
    assert box is not None

    def pixel(x: int, y: int) -> list[int]:
        return t.cast(list[int], page.evaluate(PIXEL, [png, x, y]))

    for corner in ((1, 1), (int(box["width"]) - 2, int(box["height"]) - 2)):  # the quiet zone's corners
        assert min(pixel(*corner)) >= 240, (scheme, width, corner, pixel(*corner))
    # Inside the top left finder pattern (7 modules, after a margin of 2 to 4, in a code of at least 21): its
    # dark ring or centre is at one of these shares of the width.
    finder = [pixel(round(box["width"] * share), round(box["height"] * share)) for share in (0.09, 0.12, 0.15)]
    assert any(max(rgb) <= 60 for rgb in finder), (scheme, width, finder)
