"""Every word of erlen-auth a person reads says "log in", as its buttons and account menu do, never "sign in".

The controls say "Log in", "Log out" and "Logged in as"; a page, a mail or a
message saying "sign in", "signed out" or "a new sign-in" beside them reads as
another step. One test reads all of it and fails naming each place that still
says so:

* every template of the plugin (pages, their parts, mails), in every branch:
  its text and the strings of its expressions, without its comments;
* every mail template (subject, text and HTML) rendered, twice, with values
  that take each branch;
* the pages of an app with every battery of the plugin (passkeys, two-factor,
  an OpenID Connect provider on loopback, data rights, and mail when erlen-mail
  is installed), walked by browsers as a person would, the flash messages and
  form errors included, with the mail that walk sends and the error pages;
* every string of the plugin's and the core's Python code that is not a
  docstring: flash messages, form and JSON errors, settings' help texts, the
  ``erlen`` command's output, log lines.

Only the providers' own buttons, "Sign in with <provider>", keep their words:
the providers' branding guidelines ask for them.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import re
import typing as t
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from auth_helpers import add_passkey, log_in, post_form
from flask import Flask, abort, render_template, template_rendered, url_for
from flask.testing import FlaskClient
from jinja2 import meta
from notice_helpers import link_in
from soft_authenticator import SoftAuthenticator
from test_totp import MAIL, START, Clock, code_at, codes_of, enrol

import erlen
import erlen_auth
from erlen_auth import User, state_of
from erlen_auth.access_tokens import AccessToken
from erlen_auth.oidc_models import AuthIdentity
from erlen_auth.passkey_models import Passkey
from erlen_auth.testing import make_user
from erlen_auth.testing_oidc import TestProvider
from erlen_db import database_of

#: The plugin's templates: its pages and their parts under ``auth/``, its mails under ``mail/``.
TEMPLATES = Path(erlen_auth.__file__).parent / "templates"

#: The other services' words for logging in, in any form: "sign in", "signed out", "sign-ins", "signs you in", ...
OTHER_WORDING = re.compile(
    r"\bsign(?:s|ed|ing)?(?:[ -]?(?:in|out)(?:s|to)?| (?:you|them|us|me) (?:in|out))\b", re.IGNORECASE
)

#: A provider's own button, whose words its branding guidelines ask for: the one "sign in" allowed.
PROVIDER_BUTTON = "Sign in with {label}"

#: The provider of the walk, as its button names it.
PROVIDER_LABEL = "Test provider"

#: The pages the walk cannot reach without erlen-mail: their routes are registered only with mail.
MAIL_PAGES = frozenset(
    {
        "auth/confirm.html",
        "auth/confirm_sent.html",
        "auth/resend_confirmation.html",
        "auth/reset_password.html",
        "auth/reset_request.html",
        "auth/reset_sent.html",
        "auth/token_invalid.html",
        "auth/email/change.html",
        "auth/email/confirm.html",
        "auth/email/invalid.html",
        "auth/email/sent.html",
        "auth/email/taken.html",
        "auth/email/undo.html",
        "auth/email/undo_taken.html",
        "auth/data/cancel.html",
    }
)

#: Words the walk must have read, one of each step whose message is set in Python: the walk got that far.
WALKED_TO = (
    "You can now log in with it.",  # a passkey added
    "account is linked: you can log in with it.",  # a provider linked
    "It no longer logs you in.",  # the passkey removed
    "You logged in again, so your account will not be deleted.",  # the grace period
    "You cancelled logging in with Test provider.",  # at the provider
    "Your log-in has expired. Log in again.",  # the second step, too late
    "Two-factor authentication is off. Logging in now needs only your password.",
    "Log in to it to link Test provider",  # an identity with the address of an account
)

#: Pages the walk does not reach, and why; their words are still read in the templates themselves.
NOT_WALKED = {
    "auth/base.html": "the layout of the others, rendered with each",
    "auth/data/deleted.html": "only with AUTH_DELETION_GRACE_DAYS = 0, which the walk does not set",
    "auth/email/taken.html": "an address another account took after the link was sent",
    "auth/email/undo_taken.html": "the old address taken by another account before the undo link is followed",
    "auth/oidc/email_taken.html": "a provider's address another account took while the pending link waited",
}


@dataclass(frozen=True)
class Reading:
    """Words a person reads, and where they come from.

    :param where: a template, a mail, a page of the walk or a line of code.
    :param text: the words (HTML or plain text).
    """

    where: str
    text: str


def other_wording(text: str, labels: Iterable[str]) -> list[str]:
    """Each place of ``text`` that says "sign in" (in any form), with a few words around it.

    :param text: the words to read.
    :param labels: the providers' labels: their "Sign in with <label>" buttons keep the words.
    """
    for label in labels:
        text = text.replace(PROVIDER_BUTTON.format(label=label), "")
    return [
        " ".join(text[max(0, found.start() - 50) : found.end() + 50].split()) for found in OTHER_WORDING.finditer(text)
    ]


# The templates, in every branch


def template_words(app: Flask) -> Iterator[Reading]:
    """The words of each template of the plugin: its text and its expressions' strings, without its comments.

    :param app: an app with the plugin, whose Jinja environment reads the templates as it renders them.
    """
    for path in sorted(TEMPLATES.rglob("*")):
        if path.is_file():
            tokens = app.jinja_env.lex(path.read_text(encoding="utf-8"))
            text = "".join(value for _, kind, value in tokens if not kind.startswith(("comment", "linecomment")))
            yield Reading(f"template {path.relative_to(TEMPLATES)}", text)


# The mails, rendered


def _sample_contexts() -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """Two sets of values of every mail template's variables, which between them take each branch."""
    when = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
    user = User(email="ada@example.com")
    link = "http://localhost/auth/a-link"
    first = {
        "user": user,
        "link": link,
        "reset_link": link,
        "login_link": link,
        "sessions_link": link,
        "undo_link": link,
        "cancel_link": link,
        "email": "ada.new@example.org",
        "new_email": "ada.new@example.org",
        "old_email": "ada@example.com",
        "provider": PROVIDER_LABEL,
        "identity_email": "ada@provider.example",
        "passkey": Passkey(name="Phone"),
        "name": "Phone",
        "token": AccessToken(name="backup script", public_id="0123456789ab", scopes=["notes.edit"], expires_at=when),
        "remaining": 10,
        "reason": "reset",
        "max_age_hours": 24,
        "undo_days": 7,
        "when": when,
        "delete_after": when,
        "address": "203.0.113.7",
        "user_agent": "Firefox on Linux",
    }
    second = {
        **first,
        "cancel_link": None,
        "identity_email": None,
        "token": AccessToken(name="backup script", public_id="0123456789ab", scopes=[], expires_at=None),
        "remaining": 1,
        "reason": "operator",
        "max_age_hours": 1,
        "undo_days": 1,
    }
    return first, second


def mail_words(app: Flask) -> Iterator[Reading]:
    """Every mail template of the plugin rendered with each of :func:`_sample_contexts`.

    :param app: an app with the plugin.
    """
    contexts = _sample_contexts()
    for path in sorted((TEMPLATES / "mail").rglob("*.*")):
        name = path.relative_to(TEMPLATES).as_posix()
        source = path.read_text(encoding="utf-8")
        needed = meta.find_undeclared_variables(app.jinja_env.parse(source))
        missing = needed - contexts[0].keys()
        assert not missing, f"Give {name}'s variables {sorted(missing)} values in _sample_contexts."
        for number, context in enumerate(contexts, 1):
            with app.test_request_context():
                yield Reading(f"mail {name}, values {number}", render_template(name, **context))


# The pages, walked


@dataclass
class Walk:
    """Browsers walking through an app's pages: every answer's words, and the templates that made them.

    :param app: the app.
    :param readings: the pages read so far.
    :param rendered: the names of the templates rendered as pages (not those included or extended).
    """

    app: Flask
    readings: list[Reading] = field(default_factory=list)
    rendered: set[str] = field(default_factory=set)

    def read(self, response: t.Any, where: str) -> t.Any:
        """Keep the words of ``response`` (after the redirects it followed), and return it."""
        self.readings.append(Reading(f"page {where} ({response.request.path})", response.get_data(as_text=True)))
        return response

    def get(self, client: FlaskClient, path: str) -> t.Any:
        """Open ``path`` as a person would, following redirects, and read the page it ends on."""
        return self.read(client.get(path, follow_redirects=True), f"GET {path}")

    def post(self, client: FlaskClient, path: str, data: dict[str, t.Any] | None = None) -> t.Any:
        """Send the form of ``path`` (with its CSRF token), following redirects, and read the page it ends on."""
        return self.read(post_form(client, path, data, follow_redirects=True), f"POST {path}")

    def every_page(self, client: FlaskClient, who: str, **values: t.Any) -> None:
        """Open every page of the plugin the app serves, as ``client``.

        :param who: who the client is, for the messages.
        :param values: the values of the routes' arguments; a route needing one not given is left out.
        """
        values = {"provider": "test", "token": "not-a-token", **values}
        rules = [rule for rule in self.app.url_map.iter_rules() if rule.endpoint.startswith("auth.")]
        with self.app.test_request_context():
            paths = sorted(
                url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})
                for rule in rules
                if "GET" in (rule.methods or ()) and rule.arguments <= values.keys()
            )
        for path in paths:
            self.read(client.get(path, follow_redirects=True), f"GET {path} as {who}")

    @contextlib.contextmanager
    def recording(self) -> Iterator[Walk]:
        """Record the templates the app renders as pages while the block runs."""

        def note(sender: Flask, template: t.Any, context: dict[str, t.Any], **extra: t.Any) -> None:
            self.rendered.add(template.name)

        with template_rendered.connected_to(note, self.app):
            yield self


def _row_id(app: Flask, model: type[t.Any], user_id: int) -> int:
    with app.app_context(), database_of(app).session_scope() as session:
        return t.cast(int, session.scalar(sa.select(model.id).where(model.user_id == user_id)))


def _from_provider(client: FlaskClient, provider: TestProvider, started: t.Any) -> t.Any:
    """The provider's answer to the authorization request ``started`` sent the browser to: the app's callback."""
    assert started.status_code == 302, started.get_data(as_text=True)
    return client.get(provider.authorize(started.headers["Location"]), follow_redirects=True)


def walk_pages(app: Flask, provider: TestProvider, clock: Clock) -> Walk:
    """Walk the pages of ``app`` as visitors and users do: every page, and the pages of each step of each feature.

    :param app: an app with the plugin, ``provider`` configured as ``test``, and mail when erlen-mail is installed.
    :param provider: the OpenID Connect provider on loopback.
    :param clock: the plugin's clock (two-factor codes and pending log-ins), at :data:`test_totp.START`.
    """
    walk = Walk(app)
    with walk.recording():
        # A visitor: every page, the error pages, a provider's log-in that the visitor cancels there.
        visitor = app.test_client()
        walk.every_page(visitor, "a visitor")
        for status in (401, 403, 404):
            walk.get(visitor, f"/wording/{status}")
        provider.sign_out()
        walk.read(_from_provider(visitor, provider, post_form(visitor, "/auth/oidc/test/login")), "cancelled")

        # Grace, with a password only, adds a passkey and links a provider, then sees every page.
        grace_user = make_user(app, "grace@example.com")
        grace = app.test_client()
        log_in(grace, "grace@example.com")
        assert add_passkey(grace, SoftAuthenticator()).status_code == 200
        walk.get(grace, "/auth/security")  # its flash: the passkey was added
        walk.get(grace, "/auth/oidc/test/link")
        provider.sign_in("grace-1", "grace@example.com")
        walk.read(_from_provider(grace, provider, post_form(grace, "/auth/oidc/test/link")), "linked")
        passkey_id = _row_id(app, Passkey, grace_user.id)
        identity_id = _row_id(app, AuthIdentity, grace_user.id)
        walk.every_page(grace, "Grace", passkey_id=passkey_id, identity_id=identity_id)
        expires = str(app.config["AUTH_ACCESS_TOKEN_DEFAULT_DAYS"])
        walk.post(grace, "/auth/tokens/new", {"name": "backup script", "expires": expires})
        walk.post(grace, f"/auth/passkeys/{passkey_id}/remove")
        walk.post(grace, f"/auth/oidc/identities/{identity_id}/unlink")
        walk.post(grace, "/auth/logout-everywhere")
        log_in(grace, "grace@example.com")
        # Deleting the account, then taking it back by logging in again.
        walk.post(grace, "/auth/delete", {"email": "grace@example.com"})
        walk.read(log_in(grace, "grace@example.com", follow_redirects=True), "log-in during the grace period")

        # Ada turns two-factor on, makes new recovery codes, logs in with both steps (and lets one expire).
        ada = app.test_client()
        secret, _ = enrol(app, ada)
        walk.get(ada, "/auth/two-factor/recovery-codes")
        codes = codes_of(walk.post(ada, "/auth/two-factor/recovery-codes").get_data(as_text=True))
        walk.get(ada, "/auth/security")
        walk.get(ada, "/auth/two-factor/disable")
        phone = app.test_client()
        walk.read(log_in(phone, "ada@example.com", follow_redirects=True), "first step")
        clock.advance(30)
        walk.post(phone, "/auth/two-factor", {"code": code_at(secret, clock.now)})
        late = app.test_client()
        log_in(late, "ada@example.com")
        clock.advance(app.config["AUTH_TWO_FACTOR_PENDING_SECONDS"] + 1)
        walk.get(late, "/auth/two-factor")
        spare = app.test_client()
        log_in(spare, "ada@example.com")
        walk.post(spare, "/auth/two-factor", {"code": codes[0]})
        walk.post(ada, "/auth/two-factor/disable")

        # A provider's identity with Ada's address waits for her password before it is linked.
        stranger = app.test_client()
        provider.sign_in("ada-at-provider", "ada@example.com")
        walk.read(_from_provider(stranger, provider, post_form(stranger, "/auth/oidc/test/login")), "pending")
        if MAIL:
            _walk_mail_pages(app, walk)
    return walk


def _walk_mail_pages(app: Flask, walk: Walk) -> None:
    """The pages the mailed links open: a new account's confirmation, a new address and its undo, a password
    reset, a deletion's cancel link; then the words of every mail sent."""
    from erlen_mail.testing import DeliveredMail

    mail = DeliveredMail(app)
    ben = app.test_client()
    password = "correct horse battery staple"
    walk.post(ben, "/auth/register", {"email": "ben@example.com", "password": password, "confirm": password})
    walk.get(ben, link_in(mail[-1], "/auth/confirm/"))
    walk.post(ben, "/auth/confirm", {"email": "ben@example.com"})
    walk.every_page(ben, "Ben")
    walk.post(ben, "/auth/email", {"email": "ben.new@example.org"})
    confirm = link_in(mail[-1], "/auth/email/confirm/")
    walk.get(ben, confirm)
    walk.post(ben, confirm)
    undo = link_in(mail[-1], "/auth/email/undo/")
    walk.get(ben, undo)
    walk.post(ben, undo)
    visitor = app.test_client()
    walk.post(visitor, "/auth/reset", {"email": "ben@example.com"})
    walk.get(visitor, link_in(mail[-1], "/auth/reset/"))
    log_in(ben, "ben@example.com", password)
    walk.post(ben, "/auth/delete", {"email": "ben@example.com"})
    cancel = link_in(mail[-1], "/auth/delete/cancel/")
    walk.get(visitor, cancel)
    walk.post(visitor, cancel)
    for number, message in enumerate(mail, 1):
        where = f"mail {number} sent, {message.subject!r}"
        walk.readings.append(Reading(where, "\n".join([message.subject, message.body or "", message.html or ""])))


# The words set in Python


def python_words(*packages: t.Any) -> Iterator[Reading]:
    """Every string of the packages' code that is not a docstring: messages, help texts, the command's output.

    :param packages: the packages to read, each with its subpackages.
    """
    for package in packages:
        folder = Path(package.__file__).parent
        for path in sorted(folder.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {
                id(node.value)
                for node in ast.walk(tree)
                if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                    yield Reading(f"{path.relative_to(folder.parent)}:{node.lineno}", node.value)


def test_no_page_mail_or_message_says_sign_in(auth_app, oidc_provider):
    clock = Clock()
    config = {"AUTH_OIDC_PROVIDERS": {"test": oidc_provider.config(label=PROVIDER_LABEL)}}
    if MAIL:
        config |= {"MAIL_DEFAULT_SENDER": "noreply@example.com", "AUTH_EMAIL_CONFIRMATION": True}
    app = auth_app(MAIL, config, create_all=True)
    state_of(app).clock = clock

    @app.route("/wording/<int:status>")
    def fails(status: int) -> t.NoReturn:
        abort(status)

    assert clock.now == START
    walk = walk_pages(app, oidc_provider, clock)
    labels = (PROVIDER_LABEL, "{{ provider.label }}")
    found: dict[str, list[str]] = {}  # each place once, with where it was read: pages repeat their parts
    for reading in [*template_words(app), *mail_words(app), *walk.readings, *python_words(erlen, erlen_auth)]:
        for place in other_wording(reading.text, labels):
            found.setdefault(place, []).append(reading.where)
    assert not found, "Say 'log in', 'logged out', 'a new log-in' where these say otherwise:\n" + "\n".join(
        f"{wheres[0]}{f' (and {len(wheres) - 1} more)' if len(wheres) > 1 else ''}: …{place}…"
        for place, wheres in found.items()
    )

    # The walk reached every step, and every page but those it cannot (named, with why) and, without mail, mail's.
    pages = {
        path.relative_to(TEMPLATES).as_posix()
        for path in (TEMPLATES / "auth").rglob("*.html")
        if "{% extends" in path.read_text(encoding="utf-8")
    }
    everything_read = " ".join(" ".join(reading.text.split()) for reading in walk.readings)
    assert [words for words in WALKED_TO if words not in everything_read] == []
    unreached = pages - walk.rendered - NOT_WALKED.keys() - (set() if MAIL else MAIL_PAGES)
    assert not unreached, f"The walk did not reach {sorted(unreached)}: walk there, or say why not in NOT_WALKED."
