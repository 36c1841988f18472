"""Every page of the example app and its admin, looked at as a person would, at 1280 and 360 px.

The example app (``examples/notes`` with ``examples/profiles``) is served by
werkzeug on 127.0.0.1 on a fresh SQLite database, seeded with a member (Ada,
with notes and a role) and the demo admin (a superuser). Through the browser, a
newcomer registers, confirms, turns on two-factor authentication, signs in with
it, changes address and asks to delete the account; a visitor asks for a
password reset; the member writes a note; the admin edits one (which gives the
audit log a row). The pages are found, not listed by hand: every ``GET`` route
of the app's URL map without required arguments, every admin model view (list,
new, and the detail, edit and delete pages of its first row) and admin page,
the example app's own pages of the seeded objects, the pages the mailed links
open, the pages forms answer with (errors, flash messages), and the 403, 404
and 405 error pages. A route that is neither visited nor named in
:data:`NOT_PAGES` fails :func:`test_every_page_is_visited`, so a new page
cannot slip past.

Each page is opened as who would see it (:data:`PEOPLE`), at 1280 px and then at 360 px wide (the
narrowest phone the layout serves), and for each width:

* a full-page screenshot is saved as ``<page>-<width>.png`` in ``every-page``
  in the folder the report names at its end (``ERLEN_SCREENSHOT_DIR``, or
  ``screenshots`` under pytest's basetemp), beside ``pages.json``: every page,
  its screenshots and all of axe-core's findings, of any impact;
* axe-core (the npm package of ``tests/browser/package.json``, installed by
  ``npm ci`` in nox's integration session; ``ERLEN_AXE_CORE`` names another
  ``axe.min.js``) is injected and run; :func:`test_no_serious_accessibility_violations`
  fails listing every serious or critical violation with its page, rule,
  impact, elements and help URL.

The pages of :data:`DARK_PAGES` are looked at and checked again in the dark
colour scheme (``<page>-dark-<width>.png``); :func:`test_dark_pages_are_dark`
fails if one of them stays light.

A last test signs in and edits a note in the admin with the keyboard alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email
import email.policy
import json
import os
import re
import struct
import threading
import time
import typing as t
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from erlen.testing import service_unavailable

PASSWORD = "correct horse battery staple"
MEMBER = "ada@example.com"
NEWCOMER = "grace@example.com"
NEWCOMER_NEW = "grace.hopper@example.com"

#: A permission the app declares (``AUTH_PERMISSIONS``), too long for one line of a role's page on a phone.
LONG_PERMISSION = "app.quarterly_reports.export_spreadsheet"

#: Who looks at the pages: a visitor, the member, the demo admin, and the newcomer who registers in the browser.
PEOPLE = ("anonymous", "member", "admin", "newcomer")

#: The widths every page is looked at, each with a phone's or a laptop's height.
VIEWPORTS = ((1280, 800), (360, 800))

#: The pages also looked at in the dark colour scheme (``prefers-color-scheme: dark``), at every width: one of
#: each kind (the example app's lists, notes and forms, a form with errors, flash messages, the account pages,
#: the error pages, the admin's dashboard, lists, details, forms and audit entry, Swagger UI).
DARK_PAGES = frozenset(
    {
        "index",
        "notes-index",
        "notes-show-saved",
        "notes-new",
        "notes-delete-1",
        "auth-login",
        "auth-login-refused",
        "auth-register-refused",
        "auth-security",
        "auth-sessions",
        "auth-two-factor-setup",
        "profiles-me",
        "error-404",
        "error-500",
        "admin-index",
        "admin-list-users",
        "admin-list-audit",
        "admin-detail-users-1",
        "admin-detail-audit-1",
        "admin-detail-notes_note-saved",
        "admin-edit-roles-1",
        "admin-create-users",
        "erlen-api-docs",
        "erlen-api-docs-open",
    }
)

#: The impacts that fail the accessibility test.
FAILING_IMPACTS = frozenset({"serious", "critical"})

#: A route the test adds to the app, whose view loads the signed-in user and then fails: the 500 page.
FAILING_PATH = "/every-page/fails"
FAILING_ENDPOINT = "every_page_fails"

#: ``GET`` routes that are not pages a person looks at, and why.
NOT_PAGES = {
    "static": "the app's static files",
    "erlen_plugin_static": "the plugins' static files",
    "erlen_forms.fk_search": "JSON for the searchable selects of foreign keys",
    "admin.export": "a CSV download",
    "auth.passkey_rename": "needs a registered passkey, made only by a WebAuthn authenticator (test_passkeys.py)",
    "auth.passkey_remove": "needs a registered passkey, made only by a WebAuthn authenticator (test_passkeys.py)",
    "erlen_api.asset": "Swagger UI's script and stylesheet, for /api/docs",
    "erlen_api.static_file": "Swagger UI's script and stylesheet, for /api/docs",
}

#: Swagger UI at /api/docs draws itself once its script has fetched the OpenAPI document: wait for an operation.
SWAGGER_UI_DRAWN = "#swagger-ui .opblock"

# No page is exempt from the accessibility test. On Swagger UI (erlen-api-docs, and erlen-api-docs-open with two
# operations open and tried, one executed) erlen-api's docs.css and docs.js fix what axe-core finds serious (contrast,
# a link nested in each operation's button, unlabelled parameter controls); three moderate findings, which do not
# fail the test, remain in Swagger UI's own markup: heading-order (its tag headings are h3 after the title's h2),
# region (its title block lies outside its <main>) and landmark-unique (each response table is an unnamed region).


def _is_json(site: Site, rule: t.Any) -> bool:
    """Whether a route answers JSON, not a page: erlen-api's routes under its prefix, but its docs page."""
    prefix = site.app.config.get("API_URL_PREFIX", "/api").rstrip("/") + "/"
    return rule.rule.startswith(prefix) and rule.endpoint != "erlen_api.docs"


AXE_CORE = Path(os.environ.get("ERLEN_AXE_CORE", Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"))

#: Runs axe-core on the page and returns its violations, each with the CSS selectors of its elements.
RUN_AXE = """async () => {
    const results = await axe.run(document, {resultTypes: ["violations"]});
    return results.violations.map((v) => ({
        rule: v.id,
        impact: v.impact,
        help: v.help,
        help_url: v.helpUrl,
        targets: v.nodes.map((node) => node.target.join(" ")),
        snippets: v.nodes.map((node) => node.html.slice(0, 120)),
    }));
}"""

#: The colour behind the page's content: the body's background, else the root element's (a transparent body
#: shows the root's), as ``[red, green, blue]``.
PAGE_BACKGROUND = """() => {
    const opaque = (element) => {
        const colour = getComputedStyle(element).backgroundColor;
        const parts = colour.match(/[\\d.]+/g).map(Number);
        return parts.length === 4 && parts[3] === 0 ? null : parts.slice(0, 3);
    };
    return opaque(document.body) || opaque(document.documentElement) || [255, 255, 255];
}"""

DOCUMENT_SIZE = """() => [
    Math.max(document.documentElement.scrollWidth, document.body ? document.body.scrollWidth : 0),
    Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0),
]"""


@dataclass(frozen=True)
class Violation:
    """One axe-core rule a page breaks."""

    rule: str
    impact: str
    help: str
    help_url: str
    targets: tuple[str, ...]
    snippets: tuple[str, ...]


@dataclass
class Shot:
    """A page at one width: its screenshot and what was measured and checked."""

    width: int
    height: int
    path: Path
    image_size: tuple[int, int]
    document_size: tuple[int, int]
    violations: list[Violation]
    scheme: str = "light"
    background: tuple[int, int, int] = (255, 255, 255)

    @property
    def key(self) -> str:
        """The shot's name among its page's: its width, after ``dark-`` in the dark scheme."""
        return str(self.width) if self.scheme == "light" else f"{self.scheme}-{self.width}"


@dataclass
class Visit:
    """One page, as one person saw it."""

    name: str
    path: str
    who: str
    endpoint: str | None
    status: int
    landed: str
    expected_status: int = 200
    shots: list[Shot] = field(default_factory=list)


class Site:
    """The example app, migrated and seeded, served on 127.0.0.1.

    Seeded: the demo admin (``erlen demo``), the member :data:`MEMBER` with
    three notes and a role, and a note of the admin's that the keyboard test edits.

    :param folder: where the database, the instance folder and the mail go.
    """

    def __init__(self, folder: Path) -> None:
        import notes_app
        from werkzeug.serving import make_server

        from erlen_auth.testing import FAST_HASHING

        self.mail = folder / "mail"
        environ = {
            "ERLEN_DB_URL": f"sqlite:///{folder / 'notes.sqlite3'}",
            "ERLEN_MAIL_BACKEND": "file",
            "ERLEN_MAIL_FILE_PATH": str(self.mail),
            "ERLEN_NOTES_PER_PAGE": "2",  # three notes make two pages, so the paging links show
            # A permission of the app's own with a long name, wider than a role's page on a phone.
            "ERLEN_AUTH_PERMISSIONS": json.dumps({LONG_PERMISSION: "Export the quarterly reports as a spreadsheet"}),
            **{f"ERLEN_{key}": str(value) for key, value in FAST_HASHING.items()},
        }
        self.app = notes_app.create_app(environ, instance_path=str(folder / "instance"))
        self.app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: an unhandled error is the 500 page
        self.app.add_url_rule(FAILING_PATH, FAILING_ENDPOINT, _fail_after_loading_the_user)
        demo = self.app.test_cli_runner().invoke(args=["demo", "--no-serve"])
        assert demo.exit_code == 0, demo.output
        found = re.search(r"email: +(\S+)\n +password: +(\S+)", demo.output)
        assert found, demo.output
        self.admin_email, self.admin_password = found.groups()
        self._seed()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="every-page", daemon=True)
        self.thread.start()

    def _seed(self) -> None:
        from notes_app.notes.models import Note

        from erlen_auth import Role, create_user, find_user, grant
        from erlen_db import session

        with self.app.app_context():
            moderators = Role(name="moderators", description="Delete anyone's notes")
            grant(moderators, "notes.moderate", app=self.app)
            session.add(moderators)
            session.commit()
            member = create_user(MEMBER, PASSWORD, confirmed=True, roles=["moderators"])
            admin = find_user(self.admin_email)
            assert admin is not None
            session.add_all(
                [
                    Note(title="Analytical engines", body="They weave algebraic patterns.", author_id=member.id),
                    Note(
                        title="A list kept with its line breaks",
                        body="Bread\nMilk\n\nAnd a paragraph after an empty line.",
                        author_id=member.id,
                    ),
                    Note(
                        title="A rather long title, to see how a title wraps when the column is as narrow as a phone",
                        body="Short.",
                        author_id=member.id,
                    ),
                    Note(title="Kept by keyboard", body="The keyboard test renames this note.", author_id=admin.id),
                ]
            )
            session.commit()
            self.member_id = member.id

    def first_note_of(self, email_address: str) -> int:
        """The id of the oldest note written by ``email_address``."""
        import sqlalchemy as sa
        from notes_app.notes.models import Note

        from erlen_auth import User
        from erlen_db import session

        with self.app.app_context():
            query = sa.select(Note.id).join(User, Note.author_id == User.id).where(User.email == email_address)
            return int(session.scalars(query.order_by(Note.id)).first() or 0)

    def note_title(self, note_id: int) -> str:
        """The stored title of the note ``note_id``."""
        from notes_app.notes.models import Note

        from erlen_db import session

        with self.app.app_context():
            note = session.get(Note, note_id)
            assert note is not None
            return str(note.title)

    def link_mailed_to(self, address: str, pattern: str) -> str:
        """The newest link matching ``pattern`` in the mail to ``address``, once the outbox is delivered.

        :param address: the recipient.
        :param pattern: a regular expression for the link's path, such as ``/auth/reset/``.
        """
        from erlen_mail.testing import deliver_outbox

        deliver_outbox(self.app)
        for path in sorted(self.mail.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns, reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address not in str(message["To"]):
                continue
            body = message.get_body(preferencelist=("plain",))
            found = re.search(rf"http://\S+{pattern}\S+", str(body.get_content()) if body else "")
            if found:
                return found.group(0)
        raise AssertionError(f"no mail to {address} holds a link matching {pattern!r}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _fail_after_loading_the_user() -> str:
    """A view that reads the signed-in user, then fails (the example app has no failing page of its own)."""
    from flask import current_app

    from erlen_auth import current_user

    current_app.logger.info("Failing on purpose for %s", current_user.email)
    raise RuntimeError("the every-page test's failing view")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    pytest.importorskip("notes_app", reason="the example app is not installed: pip install ./examples/notes")
    served = Site(tmp_path_factory.mktemp("every-page"))
    try:
        yield served
    finally:
        served.close()


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _log_in(page: t.Any, site: Site, address: str, password: str) -> None:
    page.goto(site.url + "/auth/login")
    page.get_by_label("Email").fill(address)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(lambda url: "/auth/login" not in url)


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return int(width), int(height)


class Sweep:
    """Opens pages as one person or another and records each at every width.

    One tab serves every person: switching person swaps the context's cookies, which is all that tells the
    people apart here, and spares a renderer per person.

    :param site: the served app.
    :param context: the browser context, with axe-core injected into its pages.
    :param folder: where the screenshots go.
    """

    def __init__(self, site: Site, context: t.Any, folder: Path) -> None:
        self.site = site
        self.context = context
        self.folder = folder
        self.tab = context.new_page()
        self.tab.set_default_timeout(30_000)
        self.cookies: dict[str, list[t.Any]] = {who: [] for who in PEOPLE}
        self.person = PEOPLE[0]
        self.visits: list[Visit] = []

    def as_(self, who: str) -> t.Any:
        """The tab, with the cookies of ``who`` (one of :data:`PEOPLE`), in the 1280 px window."""
        if who != self.person:
            self.cookies[self.person] = self.context.cookies()
            self.context.clear_cookies()
            if self.cookies[who]:
                self.context.add_cookies(self.cookies[who])
            self.person = who
        self.tab.set_viewport_size({"width": VIEWPORTS[0][0], "height": VIEWPORTS[0][1]})
        return self.tab

    def visit(
        self, name: str, path: str, who: str, endpoint: str | None, expected_status: int = 200, ready: str = ""
    ) -> Visit:
        """Open ``path`` as ``who`` and record it as ``name``, once the element ``ready`` (a CSS selector), if
        given, is there (for a page a script draws)."""
        response = self.as_(who).goto(self.site.url + path)
        if ready:
            self.tab.locator(ready).first.wait_for()
        return self.record(name, path, who, endpoint, response.status if response else 0, expected_status)

    def after(self, name: str, who: str, endpoint: str | None, action: Callable[[t.Any], t.Any]) -> Visit:
        """Record, as ``name``, the page ``action`` (given ``who``'s tab) leads to, such as a form's answer."""
        tab = self.as_(who)
        with tab.expect_navigation() as navigation:
            action(tab)
        response = navigation.value
        return self.record(name, _path(tab.url), who, endpoint, response.status if response else 0)

    def record(self, name: str, path: str, who: str, endpoint: str | None, status: int, expected: int = 200) -> Visit:
        """Screenshot the open page and run axe-core on it, at every width; and in the dark colour scheme too
        for the pages of :data:`DARK_PAGES`."""
        tab = self.tab
        visit = Visit(name, path, who, endpoint, status, _path(tab.url), expected)
        schemes = ("light", "dark") if name in DARK_PAGES else ("light",)
        for scheme in schemes:
            tab.emulate_media(color_scheme=scheme)
            for width, height in VIEWPORTS:
                visit.shots.append(self._shoot(name, scheme, width, height))
        tab.emulate_media(color_scheme="light")
        self.visits.append(visit)
        return visit

    def _shoot(self, name: str, scheme: str, width: int, height: int) -> Shot:
        """The open page in ``scheme`` at ``width``: screenshot, size, background and axe-core's findings."""
        tab = self.tab
        tab.set_viewport_size({"width": width, "height": height})
        _wait_for_a_settled_size(tab)
        shot = self.folder / (f"{name}-{width}.png" if scheme == "light" else f"{name}-{scheme}-{width}.png")
        tab.screenshot(path=str(shot), full_page=True, animations="disabled")
        document_width, document_height = tab.evaluate(DOCUMENT_SIZE)
        red, green, blue = tab.evaluate(PAGE_BACKGROUND)
        violations = [
            Violation(v["rule"], v["impact"] or "", v["help"], v["help_url"], tuple(v["targets"]), tuple(v["snippets"]))
            for v in tab.evaluate(RUN_AXE)
        ]
        size = (int(document_width), int(document_height))
        return Shot(width, height, shot, _png_size(shot), size, violations, scheme, (int(red), int(green), int(blue)))


def _wait_for_a_settled_size(tab: t.Any, *, checks: int = 40, interval_ms: int = 50) -> None:
    """Wait until the document's size is the same twice ``interval_ms`` apart (at most ``checks`` times): a page
    still drawing itself (Swagger UI on a loaded machine) would otherwise be screenshot before it is whole."""
    size = tab.evaluate(DOCUMENT_SIZE)
    for _ in range(checks):
        tab.wait_for_timeout(interval_ms)
        size, before = tab.evaluate(DOCUMENT_SIZE), size
        if size == before:
            return


def _page_name(endpoint: str, values: dict[str, t.Any]) -> str:
    return "-".join([endpoint.replace(".", "-").replace("_", "-"), *(str(v) for v in values.values())])


def _seeded_pages(site: Site) -> tuple[list[tuple[str, dict[str, t.Any], str]], list[str]]:
    """The pages with arguments, ``(endpoint, arguments, who)``, from the admin registry and the seeded rows;
    and the admin model views without a row (whose detail, edit and delete pages cannot be shown)."""
    import sqlalchemy as sa

    from erlen_admin import registry_of
    from erlen_db import session

    found: list[tuple[str, dict[str, t.Any], str]] = []
    empty = []
    with site.app.app_context():
        registry = registry_of(site.app)
        for slug, view in registry.models.items():
            found.append(("admin.list", {"slug": slug}, "admin"))
            if view.can_create:
                found.append(("admin.create", {"slug": slug}, "admin"))
            first = session.scalars(sa.select(view.model).order_by(view.pk_column).limit(1)).first()
            if first is None:
                empty.append(slug)
                continue
            ident = view.pk_of(first)
            found.append(("admin.detail", {"slug": slug, "ident": ident}, "admin"))
            if view.can_edit:
                found.append(("admin.edit", {"slug": slug, "ident": ident}, "admin"))
            if view.can_delete:
                found.append(("admin.delete", {"slug": slug, "ident": ident}, "admin"))
        found += [("admin.page", {"slug": slug}, "admin") for slug in registry.pages]
    note = site.first_note_of(MEMBER)
    found += [
        ("notes.show", {"note_id": note}, "member"),
        ("notes.delete", {"note_id": note}, "member"),  # the confirmation page
        ("profiles.show", {"user_id": site.member_id}, "member"),
        ("profiles.edit", {"user_id": site.member_id}, "member"),
    ]
    return found, empty


def _plain_pages(site: Site) -> list[tuple[str, str, str]]:
    """Every ``GET`` route without required arguments: ``(endpoint, path, who)``.

    Who: a visitor unless the route sends visitors to the log-in page; then the admin for the admin's
    routes and the member for the others.
    """
    from flask import url_for

    found = []
    client = site.app.test_client()
    with site.app.test_request_context():
        login = url_for("auth.login")
        for rule in site.app.url_map.iter_rules():
            required = rule.arguments - set(rule.defaults or {})
            if "GET" not in (rule.methods or ()) or required or rule.endpoint in NOT_PAGES or _is_json(site, rule):
                continue
            if rule.endpoint == FAILING_ENDPOINT:
                continue  # visited as error-500

            path = url_for(rule.endpoint)
            answer = client.get(path, follow_redirects=True)
            needs_login = path != login and answer.request.path == login
            who = ("admin" if rule.endpoint.startswith("admin.") else "member") if needs_login else "anonymous"
            found.append((rule.endpoint, path, who))
    return sorted(found)


@dataclass
class Survey:
    """Every page visited; the ``GET`` endpoints a page should have been visited for; the admin model views
    without a row; where the screenshots are."""

    visits: list[Visit]
    expected_endpoints: set[str]
    empty_models: list[str]
    folder: Path


@pytest.fixture(scope="module")
def survey(module_browser: t.Any, site: Site, screenshot_dir: Path) -> Iterator[Survey]:
    if not AXE_CORE.is_file():
        service_unavailable(
            f"axe-core not found at {AXE_CORE}: run `npm ci --prefix tests/browser` (or set ERLEN_AXE_CORE)"
        )
    from flask import url_for

    from erlen_admin import registry_of

    folder = screenshot_dir / "every-page"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    context = module_browser.new_context(
        viewport={"width": VIEWPORTS[0][0], "height": VIEWPORTS[0][1]}, color_scheme="light"
    )
    try:
        context.add_init_script(path=str(AXE_CORE))
        sweep = Sweep(site, context, folder)
        _visitor_flows(sweep, site)
        _newcomer_flows(sweep, site)
        _log_in(sweep.as_("member"), site, MEMBER, PASSWORD)
        _log_in(sweep.as_("admin"), site, site.admin_email, site.admin_password)
        _member_and_admin_flows(sweep, site)
        # A view that fails once the member is loaded: the rollback expires the user, so the header is neutral.
        sweep.visit("error-500", FAILING_PATH, "member", FAILING_ENDPOINT, expected_status=500)
        _api_docs_flow(sweep, site)
        done = {visit.endpoint for visit in sweep.visits}
        for endpoint, path, who in _plain_pages(site):
            if endpoint not in done:
                sweep.visit(_page_name(endpoint, {}), path, who, endpoint)
        seeded, empty = _seeded_pages(site)
        with site.app.test_request_context():
            paths = [url_for(endpoint, **values) for endpoint, values, _ in seeded]
        for (endpoint, values, who), path in zip(seeded, paths, strict=True):
            sweep.visit(_page_name(endpoint, values), path, who, endpoint)
        sweep.visit("error-404", "/no/such/page", "member", None, expected_status=404)
        sweep.visit("error-403", "/admin/", "member", None, expected_status=403)  # the member may not enter
        # POST only; a GET of /auth/logout is a page (auth-logout), which asks
        sweep.visit("error-405", "/auth/sessions/end-others", "member", None, expected_status=405)
        expected = {
            r.endpoint
            for r in site.app.url_map.iter_rules()
            if "GET" in (r.methods or ()) and not _is_json(site, r)  # the JSON API: tests/test_example_api.py
        } - set(NOT_PAGES)
        with site.app.app_context():
            if not registry_of(site.app).pages:
                expected.discard("admin.page")  # no plugin registers an admin page in this app
        _write_report(sweep.visits, folder / "pages.json")
        yield Survey(sweep.visits, expected, empty, folder)
    finally:
        context.close()


def _write_report(visits: list[Visit], path: Path) -> None:
    """Write every page, its screenshots and all of axe-core's violations (of any impact) to ``path`` as JSON."""
    pages = [
        {
            "page": visit.name,
            "who": visit.who,
            "url": visit.landed,
            "status": visit.status,
            "widths": {
                shot.key: {
                    "screenshot": shot.path.name,
                    "violations": [dataclasses.asdict(violation) for violation in shot.violations],
                }
                for shot in visit.shots
            },
        }
        for visit in visits
    ]
    path.write_text(json.dumps(pages, indent=2))


def _visitor_flows(sweep: Sweep, site: Site) -> None:
    """The pages a visitor reaches through forms and mailed links: a refused log-in, a password reset."""
    tab = sweep.as_("anonymous")

    def wrong_password(tab: t.Any) -> None:
        tab.get_by_label("Email").fill(MEMBER)
        tab.get_by_label("Password").fill("not the password")
        tab.get_by_role("button", name="Log in", exact=True).click()

    tab.goto(site.url + "/auth/login")
    sweep.after("auth-login-refused", "anonymous", None, wrong_password)

    def reset(tab: t.Any) -> None:
        tab.get_by_label("Email").fill(MEMBER)
        tab.get_by_role("button", name="Send the link").click()

    tab.goto(site.url + "/auth/reset")
    sweep.after("auth-reset-sent", "anonymous", None, reset)
    link = site.link_mailed_to(MEMBER, "/auth/reset/")
    sweep.visit("auth-reset-password", _path(link), "anonymous", "auth.reset_password")


def _newcomer_flows(sweep: Sweep, site: Site) -> None:
    """The pages of a newcomer's account, through forms and mailed links: registering and confirming, two-factor
    set-up and sign-in, changing the address (and its undo link), asking to delete the account (and its cancel
    link)."""
    import pyotp

    tab = sweep.as_("newcomer")

    def register(repeated: str) -> Callable[[t.Any], None]:
        def action(tab: t.Any) -> None:
            tab.get_by_label("Email").fill(NEWCOMER)
            tab.get_by_label("Display name").fill("Grace Hopper")
            tab.get_by_label("Password", exact=True).fill(PASSWORD)
            tab.get_by_label("Repeat the password").fill(repeated)
            tab.get_by_role("button", name="Create the account").click()

        return action

    tab.goto(site.url + "/auth/register")
    sweep.after("auth-register-refused", "newcomer", None, register("another password altogether"))
    sweep.after("auth-register-sent", "newcomer", None, register(PASSWORD))
    link = site.link_mailed_to(NEWCOMER, "/auth/confirm/")
    sweep.visit("auth-confirm-email", _path(link), "newcomer", "auth.confirm_email")
    tab.get_by_role("button", name="Confirm").click()
    tab.wait_for_load_state()
    _log_in(tab, site, NEWCOMER, PASSWORD)

    # Two-factor: set up (the set-up page itself is the member's, in the walk of plain pages), then its pages.
    tab.goto(site.url + "/auth/two-factor/setup")
    totp = pyotp.TOTP(tab.locator("#totp-secret").inner_text().replace(" ", ""))

    def turn_on(tab: t.Any) -> None:
        tab.get_by_label("Code from the app").fill(totp.now())
        tab.get_by_role("button", name="Turn on two-factor authentication").click()

    sweep.after("auth-two-factor-recovery-codes-new", "newcomer", None, turn_on)
    codes = "auth.two_factor_recovery_codes"
    sweep.visit("auth-two-factor-recovery-codes", "/auth/two-factor/recovery-codes", "newcomer", codes)
    sweep.visit("auth-two-factor-disable", "/auth/two-factor/disable", "newcomer", "auth.two_factor_disable")

    def log_out(tab: t.Any) -> None:
        tab.locator("#erlen-account-menu > summary").click()  # the account menu holds "Log out"
        tab.get_by_role("button", name="Log out").first.click()

    sweep.after("auth-logged-out", "newcomer", None, log_out)

    def password_step(tab: t.Any) -> None:
        tab.get_by_label("Email").fill(NEWCOMER)
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Log in", exact=True).click()

    tab.goto(site.url + "/auth/login")
    sweep.after("auth-two-factor", "newcomer", "auth.two_factor", password_step)
    tab.get_by_label("Code").fill(totp.at(time.time() + 30))  # the next step's code: the first one was used
    tab.get_by_role("button", name="Log in", exact=True).click()
    tab.wait_for_url(lambda url: "/auth/" not in url)

    # A new address: confirmed from the new one, undoable from the old one.
    def change_email(tab: t.Any) -> None:
        tab.get_by_label("New email address").fill(NEWCOMER_NEW)
        tab.get_by_role("button", name="Send the link").click()

    tab.goto(site.url + "/auth/email")
    sweep.after("auth-change-email-sent", "newcomer", None, change_email)
    link = site.link_mailed_to(NEWCOMER_NEW, "/auth/email/confirm/")
    sweep.visit("auth-confirm-email-change", _path(link), "newcomer", "auth.confirm_email_change")
    tab.get_by_role("button", name="Change my address").click()
    tab.wait_for_load_state()
    link = site.link_mailed_to(NEWCOMER, "/auth/email/undo/")
    sweep.visit("auth-undo-email-change", _path(link), "newcomer", "auth.undo_email_change")

    # Deleting the account, last: the mail holds a link to keep it.
    def delete(tab: t.Any) -> None:
        tab.get_by_label("Type your email address to confirm").fill(NEWCOMER_NEW)
        tab.get_by_role("button", name="Delete my account").click()

    tab.goto(site.url + "/auth/delete")
    sweep.after("auth-delete-account-requested", "newcomer", None, delete)
    link = site.link_mailed_to(NEWCOMER_NEW, "/auth/delete/cancel/")
    sweep.visit("auth-cancel-deletion", _path(link), "newcomer", "auth.cancel_deletion")


def _member_and_admin_flows(sweep: Sweep, site: Site) -> None:
    """The member and the admin log in; the pages their saves answer with (with their flash messages): the member
    writes a note, the admin renames one (which gives the audit log a row to show)."""
    _log_in(sweep.as_("member"), site, MEMBER, PASSWORD)

    def write(tab: t.Any) -> None:
        tab.get_by_label("Title").fill("Written in the browser")
        tab.get_by_label("Note").fill("A first line\nand a second one.")
        tab.get_by_role("button", name="Save the note").click()

    sweep.as_("member").goto(site.url + "/notes/new")
    sweep.after("notes-show-saved", "member", None, write)

    _log_in(sweep.as_("admin"), site, site.admin_email, site.admin_password)
    note = site.first_note_of(MEMBER)

    def rename(tab: t.Any) -> None:
        tab.get_by_label("Title").fill("Analytical engines, revised")
        tab.get_by_role("button", name="Save").click()

    sweep.as_("admin").goto(f"{site.url}/admin/m/notes_note/{note}/edit")
    saved = sweep.after("admin-detail-notes_note-saved", "admin", None, rename)
    assert saved.landed == f"/admin/m/notes_note/{note}/", saved
    assert site.note_title(note) == "Analytical engines, revised"


def _api_docs_flow(sweep: Sweep, site: Site) -> None:
    """Swagger UI at /api/docs once drawn, as a visitor; then as the member with the first ``GET`` operation (a
    list, with its parameters) and the first ``POST`` (a create, with its request body) open and tried, and the
    ``GET`` executed (its answer shown)."""
    from flask import url_for

    with site.app.test_request_context():
        path = url_for("erlen_api.docs")
    sweep.visit("erlen-api-docs", path, "anonymous", "erlen_api.docs", ready=SWAGGER_UI_DRAWN)
    tab = sweep.as_("member")
    tab.goto(site.url + path)
    tab.locator(SWAGGER_UI_DRAWN).first.wait_for()
    listing, creating = (tab.locator(f"#swagger-ui .opblock-{method}").first for method in ("get", "post"))
    for operation in (listing, creating):
        operation.locator(".opblock-summary-control").click()
        operation.locator(".try-out__btn").click()
    listing.locator(".execute").click()
    listing.locator(".live-responses-table .response-col_status").first.wait_for()
    sweep.record("erlen-api-docs-open", path, "member", "erlen_api.docs", 200)


def test_every_page_is_visited(survey: Survey) -> None:
    """Each ``GET`` route of the app is a page visited here, or is named in NOT_PAGES with the reason."""
    visited = {visit.endpoint for visit in survey.visits}
    missing = sorted(survey.expected_endpoints - visited)
    assert not missing, f"GET routes no test visits (visit them, or name them in NOT_PAGES): {missing}"
    assert not survey.empty_models, (
        f"Admin model views without a row, whose detail, edit and delete pages go unseen: {survey.empty_models}; "
        "seed a row in Site._seed"
    )
    print(f"\n{len(survey.visits)} pages, screenshots in {survey.folder}:")
    for visit in survey.visits:
        print(f"  {visit.name}: {visit.who} at {visit.landed} ({visit.status})")


def test_every_page_answers_and_is_screenshot_whole(survey: Survey) -> None:
    """Each page answered as expected, and each screenshot holds the whole page at its width."""
    problems = []
    for visit in survey.visits:
        if visit.status != visit.expected_status:
            problems.append(f"{visit.name}: {visit.path} answered {visit.status}, not {visit.expected_status}")
        for shot in visit.shots:
            width, height = shot.image_size
            if height < shot.document_size[1] or width < shot.width or height < shot.height:
                problems.append(
                    f"{shot.path.name}: the screenshot is {width}x{height}, the page {shot.document_size[0]}x"
                    f"{shot.document_size[1]} in a {shot.width}x{shot.height} window"
                )
    assert not problems, "\n".join(problems)


def test_no_page_scrolls_sideways(survey: Survey) -> None:
    """At 1280 and 360 px nothing sticks out of the window: the page is as wide as the window."""
    wide = [
        f"{shot.path.name}: {shot.document_size[0]} px wide in a {shot.width} px window"
        for visit in survey.visits
        for shot in visit.shots
        if shot.document_size[0] > shot.width
    ]
    assert not wide, "Pages wider than the window:\n" + "\n".join(wide)


def test_dark_pages_are_dark(survey: Survey) -> None:
    """Every page of DARK_PAGES was seen in the dark scheme at every width, and is dark there: its background's
    relative luminance is at most 0.1 (WCAG's formula), where the light scheme's is at least 0.6."""

    def luminance(colour: tuple[int, int, int]) -> float:
        def linear(channel: int) -> float:
            value = channel / 255
            return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

        red, green, blue = (linear(c) for c in colour)
        return 0.2126 * red + 0.7152 * green + 0.0722 * blue

    seen = {visit.name: visit for visit in survey.visits}
    assert not DARK_PAGES - seen.keys(), f"DARK_PAGES names pages never visited: {sorted(DARK_PAGES - seen.keys())}"
    problems = []
    for name in sorted(DARK_PAGES):
        shots = {shot.key: shot for shot in seen[name].shots}
        for width, _height in VIEWPORTS:
            light, dark = shots[str(width)], shots.get(f"dark-{width}")
            if dark is None:
                problems.append(f"{name}: no dark screenshot at {width} px")
            elif luminance(dark.background) > 0.1 or luminance(light.background) < 0.6:
                problems.append(
                    f"{name} at {width} px: background {light.background} in the light scheme, "
                    f"{dark.background} in the dark one"
                )
    assert not problems, "\n".join(problems)


def test_no_serious_accessibility_violations(survey: Survey) -> None:
    """axe-core finds no serious or critical violation on any page at any width."""
    lines = []
    for visit in survey.visits:
        for shot in visit.shots:
            for violation in shot.violations:
                if violation.impact in FAILING_IMPACTS:
                    lines.append(
                        f"{visit.name} at {shot.width} px, {shot.scheme} ({visit.landed}): "
                        f"{violation.rule} [{violation.impact}] "
                        f"{violation.help} on {', '.join(violation.targets)} -- {violation.help_url}\n"
                        f"    {' | '.join(violation.snippets)}"
                    )
    assert not lines, f"{len(lines)} serious or critical accessibility violations:\n" + "\n".join(lines)


def test_axe_core_is_injected_and_finds_a_serious_violation(module_browser: t.Any) -> None:
    """The checker works in this harness: on a page with an unlabelled input and an image without a text
    alternative it reports both, with their impact, elements and help."""
    if not AXE_CORE.is_file():
        service_unavailable(f"axe-core not found at {AXE_CORE}: run `npm ci --prefix tests/browser`")
    context = module_browser.new_context()
    try:
        context.add_init_script(path=str(AXE_CORE))
        tab = context.new_page()
        tab.set_content(
            '<html lang="en"><head><title>Broken</title></head><body><main><h1>Broken</h1>'
            '<img src="data:," id="picture"><input id="nameless"></main></body></html>'
        )
        found = {v["rule"]: v for v in tab.evaluate(RUN_AXE)}
    finally:
        context.close()
    assert found["image-alt"]["impact"] == "critical" and found["image-alt"]["targets"] == ["#picture"]
    assert found["label"]["impact"] in FAILING_IMPACTS and found["label"]["targets"] == ["#nameless"]
    assert found["label"]["help_url"].startswith("https://dequeuniversity.com/rules/axe/")


def _tab_to(tab: t.Any, target: t.Any, *, backwards: bool = False, limit: int = 60) -> None:
    """Press Tab (or Shift+Tab) until ``target`` has the focus, at most ``limit`` times."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        tab.keyboard.press(key)
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{limit} presses of {key} never reached {target}")


def test_keyboard_alone_signs_in_and_edits_a_note_in_the_admin(module_browser: t.Any, site: Site) -> None:
    """Sign in and rename a note in the admin with Tab, Shift+Tab, Enter, Space and typing: no clicks."""
    context = module_browser.new_context(viewport={"width": VIEWPORTS[0][0], "height": VIEWPORTS[0][1]})
    try:
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        note = site.first_note_of(site.admin_email)
        tab.goto(site.url + "/admin/")  # typed in the address bar; the admin sends a visitor to log in
        tab.wait_for_url(re.compile(r".*/auth/login.*"))

        _tab_to(tab, tab.get_by_label("Email"))
        tab.keyboard.type(site.admin_email)
        _tab_to(tab, tab.get_by_label("Password"))
        tab.keyboard.type(site.admin_password)
        _tab_to(tab, tab.get_by_role("button", name="Log in", exact=True))
        tab.keyboard.press("Enter")
        tab.wait_for_url(re.compile(r".*/admin/$"))

        _tab_to(tab, tab.locator("a[href$='/admin/m/notes_note/']").first)
        tab.keyboard.press("Enter")
        tab.wait_for_url(re.compile(r".*/admin/m/notes_note/$"))
        _tab_to(tab, tab.locator(f"a[href$='/admin/m/notes_note/{note}/']").first)
        tab.keyboard.press("Enter")
        tab.wait_for_url(re.compile(rf".*/admin/m/notes_note/{note}/$"))
        _tab_to(tab, tab.locator(f"a[href$='/admin/m/notes_note/{note}/edit']").first)
        tab.keyboard.press("Enter")
        tab.wait_for_url(re.compile(rf".*/admin/m/notes_note/{note}/edit$"))

        # Past the title to the body, then back with Shift+Tab: focus by keyboard selects the title's text,
        # so typing replaces it.
        title = tab.get_by_label("Title")
        _tab_to(tab, tab.get_by_label("Body"))
        _tab_to(tab, title, backwards=True)
        tab.keyboard.type("Renamed by keyboard")
        _tab_to(tab, tab.get_by_role("button", name="Save"))
        tab.keyboard.press("Space")
        tab.wait_for_url(re.compile(rf".*/admin/m/notes_note/{note}/$"))

        assert site.note_title(note) == "Renamed by keyboard"
        tab.get_by_text("Renamed by keyboard").first.wait_for()
    finally:
        context.close()


#: Where each body cell of the admin's list of users is: its box, its column's label as drawn before it, and
#: whether its table box scrolls sideways.
TABLE_LAYOUT = """() => {
    const wrap = document.querySelector(".table-wrap");
    const rows = [...document.querySelectorAll(".admin-table > tbody > tr")].map((row) =>
        [...row.cells].map((cell) => {
            const box = cell.getBoundingClientRect();
            return {
                label: cell.dataset.label || "",
                drawn: getComputedStyle(cell, "::before").content,
                left: box.left, top: box.top, right: box.right,
            };
        }));
    return {rows, scrolls: wrap.scrollWidth > wrap.clientWidth, width: document.documentElement.scrollWidth};
}"""


def test_admin_list_tables_read_as_labelled_rows_on_a_phone_and_stay_tables(module_browser: t.Any, site: Site) -> None:
    """At 360 px each row of the users' list is a card of its cells, one above the other, headed by the first
    and each other drawn with its column's label, without scrolling sideways; at 1280 px it is a row of cells
    side by side. At both widths it is still a table for screen readers: rows, column headers, and cells whose
    names are their values alone (the drawn label is not read out: the column header is)."""
    context = module_browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        _log_in(tab, site, site.admin_email, site.admin_password)
        tab.goto(site.url + "/admin/m/users/")
        table = tab.get_by_role("table")
        for width in (1280, 360):
            tab.set_viewport_size({"width": width, "height": 800})
            layout = tab.evaluate(TABLE_LAYOUT)
            assert layout["width"] <= width and not layout["scrolls"], (width, layout)
            assert len(layout["rows"]) >= 2
            for cells in layout["rows"]:
                labelled = [cell for cell in cells if cell["label"]]
                assert [cell["label"] for cell in labelled][:2] == ["Email", "Active"]
                email, active = labelled[0], labelled[1]
                if width == 360:
                    assert active["top"] > email["top"] and abs(active["left"] - email["left"]) < 1, cells
                    assert all(cell["right"] <= width for cell in cells), cells
                    # The first column heads the card; the others' labels are drawn with an empty text alternative:
                    # seen, not read out.
                    assert email["drawn"] == "none", cells
                    assert all(cell["drawn"] == f'"{cell["label"]}" / ""' for cell in labelled[1:]), cells
                else:
                    assert active["top"] == email["top"] and active["left"] > email["right"] - 1, cells
                    assert all(cell["drawn"] == "none" for cell in labelled), cells
            # Still a table, read as one: a row per user and the head, headers, and cells named by value alone.
            assert table.get_by_role("row").count() == len(layout["rows"]) + 1
            assert table.get_by_role("columnheader", name="Email", exact=True).count() == 1
            assert table.get_by_role("cell", name=MEMBER, exact=True).count() == 1
            snapshot = table.aria_snapshot()
            assert "- rowheader" not in snapshot and f'- cell "{MEMBER}"' in snapshot, snapshot
    finally:
        context.close()


HEADER_HEIGHT = "() => document.querySelector('.erlen-header').getBoundingClientRect().height"


def test_the_header_keeps_one_height_from_page_to_page(module_browser: t.Any, site: Site) -> None:
    """Found walking the example app: the header was 52 px on the sign-up page and 58 px on the others (the
    "Create an account" button was taller than its row), and on a phone the log-in link and that button wrapped
    to a second row on some pages only, so the page jumped from one page to the next. At each width, every
    logged-out page has one header height; on a computer the logged-in header has it too."""
    context = module_browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        for width in (1280, 360):
            tab.set_viewport_size({"width": width, "height": 800})
            heights = {}
            for path in ("/auth/login", "/auth/register", "/auth/reset", "/no-such-page"):
                tab.goto(site.url + path)
                heights[path] = tab.evaluate(HEADER_HEIGHT)
            if width == 1280:
                _log_in(tab, site, site.admin_email, site.admin_password)
                heights["logged in"] = tab.evaluate(HEADER_HEIGHT)
                tab.context.clear_cookies()
            assert len(set(heights.values())) == 1, (width, heights)
    finally:
        context.close()


@contextlib.contextmanager
def _admin_tab(browser: t.Any, site: Site) -> Iterator[t.Any]:
    """A tab of a context of its own, with the demo admin logged in, in the 1280 px window."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        _log_in(tab, site, site.admin_email, site.admin_password)
        yield tab
    finally:
        context.close()


def _ids(site: Site) -> tuple[int, int]:
    """The ids of the seeded role (moderators) and of the demo admin."""
    import sqlalchemy as sa

    from erlen_auth import Role, find_user
    from erlen_db import session

    with site.app.app_context():
        role = session.scalars(sa.select(Role.id).where(Role.name == "moderators")).one()
        admin = find_user(site.admin_email)
        assert admin is not None
        return int(role), int(admin.id)


#: Each permission name on a role's page: its text, where its rendered lines break (the indexes of the characters
#: that start a new line), and whether its box stays inside its list item.
PERMISSION_NAME_LINES = """() => [...document.querySelectorAll(".check-list code")].map((code) => {
    const range = document.createRange();
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    let text = "";
    const tops = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (let index = 0; index < node.length; index++) {
            range.setStart(node, index);
            range.setEnd(node, index + 1);
            tops.push(range.getClientRects()[0].top);
            text += node.data[index];
        }
    }
    const breaks = [];
    for (let index = 1; index < text.length; index++) {
        if (tops[index] > tops[index - 1] + 1) breaks.push(index);
    }
    const item = code.closest("li").getBoundingClientRect();
    return {name: text, breaks, inside: code.getBoundingClientRect().right <= item.right + 0.5};
})"""


def test_admin_permission_names_wrap_only_after_their_separators(module_browser: t.Any, site: Site) -> None:
    """Found on a role's page on a phone: a permission's name too long for its line broke inside a word
    ("admin.notes_note.creat" and "e"). At 360 and 1280 px every name on the page breaks only after a ".", "_" or
    "-", and stays in its box; at 360 px the app's long one does break."""
    role, _admin = _ids(site)
    with _admin_tab(module_browser, site) as tab:
        tab.goto(f"{site.url}/admin/m/roles/{role}/")
        for width in (1280, 360):
            tab.set_viewport_size({"width": width, "height": 800})
            names = {name["name"]: name for name in tab.evaluate(PERMISSION_NAME_LINES)}
            assert LONG_PERMISSION in names and "notes.moderate" in names, names
            for name, measured in names.items():
                inside_words = [name[:index] + "|" + name[index:] for index in measured["breaks"]]
                assert all(name[index - 1] in "._-" for index in measured["breaks"]), (width, inside_words)
                assert measured["inside"], (width, name)
            if width == 360:
                assert names[LONG_PERMISSION]["breaks"], names[LONG_PERMISSION]


#: Each group of the admin's navigation: its label's box and its first link's.
NAV_GROUPS = """() => [...document.querySelectorAll(".admin-nav h2.nav-group")].map((label) => {
    const link = label.nextElementSibling.querySelector("a");
    const box = (element) => {
        const rect = element.getBoundingClientRect();
        return {top: rect.top, bottom: rect.bottom, left: rect.left};
    };
    return {label: label.textContent, link: link.textContent, label_box: box(label), link_box: box(link)};
})"""


def test_admin_navigation_keeps_each_group_label_with_its_first_link(module_browser: t.Any, site: Site) -> None:
    """Found on a phone: the admin's line of links ended a line with a group's label ("BACKGROUND JOBS:") and
    started the next with its link. At 360 px each label shares its first link's line (its middle within the
    link's height); at 1280 px, in the sidebar, each label heads its links."""
    with _admin_tab(module_browser, site) as tab:
        for width in (360, 1280):
            tab.set_viewport_size({"width": width, "height": 800})
            tab.goto(site.url + "/admin/")
            groups = tab.evaluate(NAV_GROUPS)
            assert len(groups) >= 4, groups  # Accounts, Admin, Background jobs, Member profiles, Notes
            for group in groups:
                label, link = group["label_box"], group["link_box"]
                if width == 360:
                    middle = (label["top"] + label["bottom"]) / 2
                    assert link["top"] <= middle <= link["bottom"] and label["left"] < link["left"], group
                else:
                    assert label["bottom"] <= link["top"], group


#: The heading row of a detail page: the heading's and the buttons' boxes, and the top of what follows the row.
TITLE_ROW = """() => {
    const row = document.querySelector(".title-row");
    const box = (element) => {
        const rect = element.getBoundingClientRect();
        return {top: rect.top, bottom: rect.bottom};
    };
    return {heading: box(row.querySelector("h1")), buttons: box(row.querySelector(".title-actions")),
            next: box(row.nextElementSibling)};
}"""


def test_admin_detail_buttons_stand_beside_the_heading_and_off_the_page_below(
    module_browser: t.Any, site: Site
) -> None:
    """Found on the detail pages: the Edit, Delete and History buttons touched the box of fields under them on a
    phone (4 px apart) and sat below the heading's middle on a computer. At both widths at least 12 px part them
    from what follows; at 1280 px they are centred on the heading's line."""
    role, admin = _ids(site)
    with _admin_tab(module_browser, site) as tab:
        for path in (
            f"/admin/m/roles/{role}/",
            f"/admin/m/users/{admin}/",
            f"/admin/m/notes_note/{site.first_note_of(MEMBER)}/",
        ):
            tab.goto(site.url + path)
            for width in (1280, 360):
                tab.set_viewport_size({"width": width, "height": 800})
                row = tab.evaluate(TITLE_ROW)
                heading, buttons = row["heading"], row["buttons"]
                assert row["next"]["top"] - buttons["bottom"] >= 12, (path, width, row)
                if width == 1280:
                    middle = (heading["top"] + heading["bottom"]) / 2
                    assert abs((buttons["top"] + buttons["bottom"]) / 2 - middle) <= 1, (path, width, row)


#: The list page's bulk action: the boxes of its label, its select and its "Go" button.
BULK_ACTION = """() => {
    const box = (element) => {
        const rect = element.getBoundingClientRect();
        return {top: rect.top, bottom: rect.bottom, left: rect.left, right: rect.right};
    };
    const select = document.querySelector("#bulk-action");
    return {select: box(select), go: box(select.form.querySelector("button[type=submit]")),
            width: document.documentElement.clientWidth};
}"""


def test_admin_bulk_action_keeps_its_go_button_beside_it(module_browser: t.Any, site: Site) -> None:
    """Found on the users' list on a phone: "Deactivate selected" filled the line and its "Go" button began the
    next. At 360 and 1280 px the button stands on the select's line, after it, inside the window."""
    with _admin_tab(module_browser, site) as tab:
        for path in ("/admin/m/users/", "/admin/m/notes_note/"):
            tab.goto(site.url + path)
            for width in (1280, 360):
                tab.set_viewport_size({"width": width, "height": 800})
                bulk = tab.evaluate(BULK_ACTION)
                select, go = bulk["select"], bulk["go"]
                middle = (select["top"] + select["bottom"]) / 2
                assert go["top"] <= middle <= go["bottom"] and go["left"] > select["right"], (path, width, bulk)
                assert go["right"] <= bulk["width"], (path, width, bulk)


def test_admin_link_under_a_panel_table_keeps_off_its_border(module_browser: t.Any, site: Site) -> None:
    """Found on a user's page: "All of them in the audit log" touched the bottom of the table of changes above
    it. Once the admin changes a role, the admin's page lists the change, and at 360 and 1280 px the link stands
    at least 8 px below the table."""
    role, admin = _ids(site)
    with _admin_tab(module_browser, site) as tab:
        tab.goto(f"{site.url}/admin/m/roles/{role}/edit")
        tab.get_by_label("Description").fill("Delete anyone's notes, and read them all")
        tab.get_by_role("button", name="Save").click()
        tab.wait_for_url(re.compile(rf".*/admin/m/roles/{role}/$"))
        tab.goto(f"{site.url}/admin/m/users/{admin}/")
        link = tab.get_by_role("link", name="All of them in the audit log").last
        for width in (1280, 360):
            tab.set_viewport_size({"width": width, "height": 800})
            gap = link.evaluate(
                "(link) => link.getBoundingClientRect().top"
                " - link.closest('p').previousElementSibling.getBoundingClientRect().bottom"
            )
            assert gap >= 8, (width, gap)


#: The tops of each list row's View and Edit links.
ROW_LINK_TOPS = """() => [...document.querySelectorAll(".admin-table > tbody > tr > td.row-links")].map((cell) =>
    [...cell.querySelectorAll("a")].map((link) => link.getBoundingClientRect().top))"""


def test_admin_list_row_links_stand_side_by_side_on_a_computer(module_browser: t.Any, site: Site) -> None:
    """Found on the notes' list at 1280 px: each row's "View" and "Edit" were stacked, which made every row two
    lines high while the title column had room to spare. At 1280 px they share a line on every row."""
    with _admin_tab(module_browser, site) as tab:
        tab.goto(site.url + "/admin/m/notes_note/")
        rows = tab.evaluate(ROW_LINK_TOPS)
        assert len(rows) >= 3 and all(len(tops) == 2 for tops in rows), rows
        assert all(abs(view - edit) < 1 for view, edit in rows), rows
