"""The hook specifications of the auth plugin.

Plugins implement them with :data:`erlen.hookimpl`. A plugin that works
with or without auth marks its implementations
``@erlen.hookimpl(optionalhook=True)``. The notification hooks (all but
:func:`erlen_auth_permissions`) are called for every plugin even when one
of them raises; failures are logged.
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
    from .state import SecuritySection


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
    the app at startup, as does a view requiring a name nobody declares.
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
