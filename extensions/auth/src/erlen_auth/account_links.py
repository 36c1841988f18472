"""The links that plugins add to the account menu (``erlen_auth_account_links``), and who sees each.

A link with a permission is shown to superusers and to users one of whose roles grants it. The menu is on every
page, error pages included, which must never touch the database; and most users have no role at all, whose pages
should not pay a query to find that out. So the answer is worked out from what is loaded already: a superuser's
flag; the user's roles, when something in the request loaded them (``can()``); else the answers the user loader
read with the user, in the same statement (:func:`erlen_auth.sessions.user_loader` asks, for each permission of
a link, whether one of the user's roles grants it). Only a user that neither loaded (logged in by this very
request) is asked with a query, and never on an error page, where such a link is then left out.
"""

from __future__ import annotations

import typing as t

from flask import Flask, url_for
from sqlalchemy import inspect
from werkzeug.routing import BuildError

import erlen

from .state import AccountLink, state_of

#: Where the user loader keeps, on the user's instance state, whether a role grants each links' permission.
LOADED_ANSWERS = "erlen_auth_link_permissions"


def collect(app: Flask) -> dict[AccountLink, str]:
    """The links of every plugin, in the plugins' order, each with the name of the first plugin that added it; call
    it once the permissions are collected.

    :param app: the app.
    :raises erlen.PluginError: a plugin returned something other than :class:`AccountLink` objects, a link whose
        permission is not one name (a list of them), or one requiring a permission nobody declares.
    """
    declared = state_of(app).permissions
    found: dict[AccountLink, str] = {}
    hook = "erlen_auth_account_links"
    for plugin, result in erlen.plugins_of(app).call_each(hook, app=app):
        for link in erlen.hook_items(plugin.name, hook, result, "AccountLink objects"):
            if not isinstance(link, AccountLink):
                raise erlen.PluginError(
                    f"Plugin {plugin.name!r}: {hook} returned {link!r}; it must return erlen_auth.AccountLink objects.",
                    plugin=plugin.name,
                )
            if link.permission is not None and not isinstance(link.permission, str):
                # A list meaning "any of these" would fail below as unhashable, blaming erlen-auth.
                raise erlen.PluginError(
                    f"Plugin {plugin.name!r}: the account link {link.label!r} requires {link.permission!r}; "
                    "permission takes one permission's name (or None).",
                    plugin=plugin.name,
                )
            if link.permission is not None and link.permission not in declared:
                raise erlen.PluginError(
                    f"Plugin {plugin.name!r}: the account link {link.label!r} requires the permission "
                    f"{link.permission!r}, which no plugin declares; declare it (erlen_auth_permissions) or "
                    "name a declared one.",
                    plugin=plugin.name,
                )
            found.setdefault(link, plugin.name)
    return found


def require_endpoints(app: Flask) -> None:
    """Check, at the first menu, that every account link leads to an endpoint of ``app``.

    Not at start-up: a link may lead to a route the application module adds after ``create_app``. Called in the
    request of that menu: the link's URL is built there, with the app's URL processors.

    :param app: the app.
    :raises erlen.PluginError: a link's endpoint does not exist (a typo, or a blueprint not registered), does not
        answer GET, or its URL needs a value, naming the plugin, the link and the endpoint, rather than werkzeug's
        ``BuildError`` naming neither (or a 405 for whoever follows the link).
    """
    state = state_of(app)
    if state.account_link_endpoints_found:
        return
    for link, plugin in state.account_links.items():
        if link.endpoint not in app.view_functions:
            raise erlen.PluginError(
                f"Plugin {plugin!r}: the account link {link.label!r} leads to the endpoint {link.endpoint!r}, which "
                "the app does not have; name a registered view (blueprint name, dot, view name).",
                plugin=plugin,
            )
        # A link is followed with a GET: a rule answering only POST (a form's action) would answer it 405.
        rules = [rule for rule in app.url_map.iter_rules(link.endpoint) if "GET" in (rule.methods or {"GET"})]
        if not rules:
            raise erlen.PluginError(
                f"Plugin {plugin!r}: the account link {link.label!r} leads to the endpoint {link.endpoint!r}, which "
                "does not answer GET, the method of a link; link a page (a view answering GET).",
                plugin=plugin,
            )
        # A link has no values for the URL: built as the menu builds it, in this request, so that the app's URL
        # processors (Flask's url_defaults, filling in a language for instance) give what the rule needs.
        try:
            url_for(link.endpoint)
        except BuildError:
            needed = sorted(rules[0].arguments - set(rules[0].defaults or ()))
            raise erlen.PluginError(
                f"Plugin {plugin!r}: the account link {link.label!r} leads to the endpoint {link.endpoint!r}, whose "
                f"URL needs {', '.join(needed)}, which a link cannot give (nor the app's url_defaults); link a view "
                "whose URL needs no value.",
                plugin=plugin,
            ) from None
    state.account_link_endpoints_found = True


def permissions_read_with_the_user(app: Flask) -> list[str]:
    """The permissions of the app's account links, each once: the user loader reads whether a role grants each.

    :param app: the app.
    """
    return list(dict.fromkeys(link.permission for link in state_of(app).account_links if link.permission))


def remember(user: t.Any, answers: t.Mapping[str, bool]) -> None:
    """Keep, for this request, whether one of ``user``'s roles grants each permission (as just read).

    :param user: the :class:`~erlen_auth.User` loaded.
    :param answers: permission names to the answers read with it.
    """
    inspect(user).info[LOADED_ANSWERS] = dict(answers)


def shown_to(user: t.Any, links: t.Collection[AccountLink], error_page: bool = False) -> list[AccountLink]:
    """The links of ``links`` that the account menu shows ``user``.

    :param user: the current user (anonymous or a :class:`~erlen_auth.User`).
    :param links: the app's account links.
    :param error_page: the page is an error page: no query is made; a link whose answer is not known is left out.
    """
    if not links or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return []
    return [link for link in links if link.permission is None or _granted(user, link.permission, error_page)]


def _granted(user: t.Any, permission: str, error_page: bool) -> bool:
    scopes = getattr(user, "token_scopes", None)
    if scopes is not None and permission not in scopes:
        return False  # an access token's request: can() refuses what its scopes leave out, superusers' included
    if user.is_superuser:
        return True
    state = inspect(user)
    if "roles" in state.dict:
        return bool(user.can(permission))  # the roles and their grants are loaded: no query
    known: bool | None = state.info.get(LOADED_ANSWERS, {}).get(permission)
    if known is not None:
        return known
    if error_page:
        return False
    return bool(user.can(permission))  # a user logged in by this request: its roles, in one query
