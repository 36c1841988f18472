"""The hook specifications of the auth plugin.

Plugins implement them with :data:`erlen.hookimpl`. A plugin that works
with or without auth marks its implementations
``@erlen.hookimpl(optionalhook=True)``. The notification hooks (all but
:func:`erlen_auth_permissions`, :func:`erlen_auth_security_sections`,
:func:`erlen_auth_user_export` and :func:`erlen_auth_user_delete`) are
called for every plugin even when one of them raises; failures are logged.
"""

# The specifications are stubs: their bodies are their docstrings.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping

from erlen import hookspec

if t.TYPE_CHECKING:
    from flask import Flask

    from .forms import RegistrationForm
    from .models import User
    from .state import AccountLink, SecuritySection


@hookspec
def erlen_auth_permissions(app: Flask) -> Mapping[str, str]:
    """Declare the plugin's permissions: dotted names mapped to what they allow.

    Called once per app while the auth plugin initialises. Accept ``app``
    when the permissions depend on the app (the admin plugin derives one per
    registered model view); most plugins take no argument.

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_auth_permissions():
            return {"blog.publish": "Publish and unpublish posts", "blog.moderate": "Delete comments"}

    Names start with the plugin's name. Two plugins declaring one name stop
    the app at startup, as does a view requiring a name nobody declares. A
    role's admin page groups them under the plugin's title
    (``erlen.Plugin(title=...)``, else its name made a word).
    """


@hookspec
def erlen_auth_user_registered(user: User, form: RegistrationForm) -> None:
    """A user registered through the registration form; ``user`` is committed.

    Store the fields your plugin added to the form (see ``erlen_forms_extend``
    with ``form_id == "auth.register"``) here, in a table of your own.

    :param user: the new user.
    :param form: the validated registration form, extensions included.
    """


@hookspec
def erlen_auth_logged_in(user: User, remember: bool) -> None:
    """A user logged in through the form.

    :param user: the user.
    :param remember: whether they asked to be remembered.
    """


@hookspec
def erlen_auth_logged_out(user: User) -> None:
    """A user logged out.

    :param user: the user.
    """


@hookspec
def erlen_auth_login_failed(email: str, user: User | None, reason: str) -> None:
    """A log-in was refused.

    :param email: the address that was typed.
    :param user: the account of that address, or ``None`` when there is none.
    :param reason: ``"unknown"`` (no such account), ``"password"``,
        ``"inactive"``, ``"unconfirmed"``, ``"throttled"`` (too many failures,
        of passwords or of second-factor codes), or ``"second_factor"``
        (the password was right, the second factor's code wrong).
    """


@hookspec
def erlen_auth_password_changed(user: User, reason: str) -> None:
    """A user's password changed; their other sessions have ended.

    :param user: the user.
    :param reason: ``"change"`` (the form), ``"reset"`` (by email) or ``"command"`` (``erlen user set-password``).
    """


@hookspec
def erlen_auth_security_sections() -> Iterable[SecuritySection]:
    """Add sections to the account's security page, ``/auth/security``.

    Each section is a template rendered inside the page (it extends nothing;
    it sees ``user``, the current user, and ``csrf_input`` from
    ``forms/macros.html`` when it imports it), placed by its ``order``: the
    built-in sections use 10 (email) to 90 (your data) in steps of ten.

    .. code-block:: python

        from erlen_auth import SecuritySection

        @erlen.hookimpl(optionalhook=True)
        def erlen_auth_security_sections():
            return [SecuritySection("blog/security_section.html", order=75, title="Blog authors")]
    """


@hookspec
def erlen_auth_account_links(app: Flask) -> Iterable[AccountLink]:
    """Add links to the account menu, the signed-in user's menu in every page's header.

    The links follow erlen-auth's own (security, password, sessions), in the
    order of the plugins. A link with a ``permission`` is shown to superusers
    and to users one of whose roles grants it, and costs no query: the user
    loader reads whether a role grants each such permission in the statement
    that loads the user. On an error page, which never touches the database,
    a link whose answer was not read is left out. The permission must be
    declared (:func:`erlen_auth_permissions`), or the app stops at start-up
    naming the plugin. A link is followed with a GET and gives the URL no
    values: an endpoint the app does not have, one that answers no GET (a
    form's action), or one whose URL needs a value that the app's URL
    processors (``url_defaults``) do not fill in stops the first page showing
    the menu, naming the plugin too (not at start-up: a link may lead to a
    route the application module adds after ``create_app``). Called once
    per app while the auth plugin initialises; accept ``app`` when the links
    depend on it. erlen-admin links its
    dashboard this way, for ``admin.access``.

    .. code-block:: python

        from erlen_auth import AccountLink

        @erlen.hookimpl(optionalhook=True)
        def erlen_auth_account_links():
            return [
                AccountLink("Your posts", "blog.mine"),
                AccountLink("Moderation", "blog.moderation", permission="blog.moderate"),
            ]
    """


@hookspec
def erlen_auth_user_export(user: User) -> Mapping[str, t.Any]:
    """Return what the plugin keeps about ``user``, for the "Download my data" export.

    The export (``POST /auth/data/export``, a JSON file) nests each plugin's
    mapping under the plugin's name: ``{"data": {"auth": {...}, "blog": {...}}}``.
    Return JSON values (dicts with string keys, lists, strings, numbers,
    booleans, ``None``); ``datetime`` and ``date`` values are written in
    ISO 8601 (a datetime without a time zone is taken to be UTC, as Erlen
    stores times), ``Decimal`` and ``UUID`` values as text. Anything else
    stops the export with an error naming the plugin.
    Return ``None`` or ``{}`` when the plugin keeps nothing about the user.

    Give everything the user gave or the plugin recorded about them (rows of
    your tables that refer to the user, with their times), but no secrets a
    leaked file must not hand out: hashes, keys, tokens, second-factor seeds.
    Called in load order, in a request of the user (or a command), with the
    app's session; it must only read.

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_auth_user_export(user):
            posts = erlen_db.session.scalars(sa.select(Post).where(Post.author_id == user.id).order_by(Post.id))
            return {"posts": [{"title": p.title, "body": p.body, "published_at": p.published_at} for p in posts]}

    :param user: the account whose data is exported.
    :returns: the plugin's data about the user, as a mapping of JSON values.
    """


@hookspec
def erlen_auth_user_delete(user: User) -> None:
    """Delete (or anonymise) what the plugin keeps about ``user``, whose account is being deleted.

    The deletion of an account is **one transaction**: every plugin's
    implementation runs in it, in reverse load order (the plugins that
    require others first, so rows referring to another plugin's rows go
    before them; the auth plugin's own runs last), then the ``auth_user``
    row is deleted and the transaction commits. Work in the app's session
    (``erlen_db.session``) and **never commit**: committing raises
    ``erlen_auth.AccountDeletionError``. If any implementation raises,
    everything is rolled back, the account stays whole, and the error names
    the plugin.

    Rows of tables whose foreign key to ``auth_user.id`` has
    ``ondelete="CASCADE"`` (or ``"SET NULL"``) go with the user by themselves:
    implement the hook for the rest. Rows that still refer to the user after
    every implementation ran, in a table whose foreign key would block the
    deletion, stop it with an error naming the table and its plugin.
    Anonymising is fine where deleting would harm others (a comment in a
    thread): set the reference to ``NULL`` and clear what identifies the user.

    .. code-block:: python

        @erlen.hookimpl(optionalhook=True)
        def erlen_auth_user_delete(user):
            # Comments stay in their threads, without their author.
            erlen_db.session.execute(
                sa.update(Comment).where(Comment.author_id == user.id).values(author_id=None, author_name="")
            )
            erlen_db.session.execute(sa.delete(Draft).where(Draft.author_id == user.id))

    :param user: the account being deleted (still in the database while the hook runs).
    """
