"""The :class:`Api`: a Flask blueprint whose views declare typed inputs and outputs.

.. code-block:: python

    api = erlen_api.Api("notes", __name__, version="v1")  # served under /api/v1


    @api.get("/notes/<int:id>")
    def read(id: int) -> NoteOut:
        return session.get(Note, id) or erlen_api.abort(404, f"No note {id}.")


    @api.post("/notes", status=201, permission="notes.edit")
    def create(note: NoteIn) -> NoteOut: ...

Register it like any blueprint: ``app.register_blueprint(api)``, or return
it from a plugin's ``erlen_blueprints`` hook.
"""

from __future__ import annotations

import functools
import re
import typing as t
from collections.abc import Callable, Mapping

from flask import Blueprint, Flask, current_app, request
from flask.sansio.app import App
from flask.views import MethodView, View

import erlen

from .endpoint import ENDPOINTS_ATTRIBUTE, OPTION_NAMES, Endpoint, compile_endpoint, merged_options
from .errorhandling import register_handlers
from .negotiation import require_acceptable
from .ratelimits import authenticate_within_limits
from .responses import make_response
from .state import state_of
from .versioning import Lifecycle

if t.TYPE_CHECKING:
    import datetime

    from werkzeug.wrappers import Response

_RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

F = t.TypeVar("F", bound=Callable[..., t.Any])


class ApiDeclarationError(erlen.PluginError):
    """An API's endpoints cannot be served on this app: a permission nobody declares, or nobody to check it."""


class RouteOptions(t.TypedDict, total=False):
    """The keyword arguments of :meth:`Api.route`, :meth:`Api.get` and the other method shortcuts.

    Besides Flask's own (``methods``, ``endpoint``, ``defaults``, ``strict_slashes``...), the fields of
    :class:`erlen_api.EndpointOptions`: ``response``, ``status``, ``permission``, ``login_required``,
    ``tokens``, ``summary``, ``description``, ``tags``, ``deprecated``, ``operation_id``, ``responses``,
    ``ratelimit``, ``headers``, ``refuse_unknown_query``.
    """

    methods: list[str]
    endpoint: str
    defaults: dict[str, t.Any]
    strict_slashes: bool
    provide_automatic_options: bool
    response: t.Any
    status: int
    permission: str
    login_required: bool
    tokens: bool
    summary: str
    description: str
    tags: list[str] | tuple[str, ...]
    deprecated: bool
    operation_id: str
    responses: Mapping[int, str]
    ratelimit: str | t.Literal[False] | None
    headers: Mapping[str, str]
    refuse_unknown_query: bool


def rule_variables(rule: str) -> list[str]:
    """The names of the variables of a URL rule: ``["id"]`` for ``/notes/<int:id>``.

    :param rule: a Flask URL rule.
    """
    return _RULE_VARIABLE.findall(rule)


class Api(Blueprint):
    """A blueprint of typed API endpoints, with a version, served under ``API_URL_PREFIX``.

    :param name: the blueprint's name (endpoints are ``name.view``); also the default tag of its operations.
    :param import_name: the blueprint's import name, ``__name__``; only used to find its folders.
    :param version: the API version: the URL prefix is ``API_URL_PREFIX/version`` (``/api/v1``).
    :param url_prefix: the URL prefix, instead of the one made from ``API_URL_PREFIX`` and ``version``.
    :param description: the description of its tag in the OpenAPI document.
    :param deprecated: when this version was (or will be) deprecated: every response says so (``Deprecation``)
        and its operations are marked deprecated.
    :param sunset: when this version may stop answering (``Sunset``).
    :param successor: the URL of the version replacing it (``Link: <...>; rel="successor-version"``).
    :param login_required: the default of its endpoints' ``login_required``.
    :param tokens: the default of its endpoints' ``tokens`` (whether bearer tokens are accepted).
    :param refuse_unknown_query: the default of its endpoints' ``refuse_unknown_query`` (whether a query parameter
        an endpoint does not read is refused with a 422 rather than ignored).
    :param blueprint_options: other keyword arguments of :class:`flask.Blueprint`.
    """

    def __init__(
        self,
        name: str,
        import_name: str = __name__,
        *,
        version: str | None = None,
        url_prefix: str | None = None,
        description: str | None = None,
        deprecated: datetime.datetime | None = None,
        sunset: datetime.datetime | None = None,
        successor: str | None = None,
        login_required: bool = False,
        tokens: bool = True,
        refuse_unknown_query: bool = False,
        **blueprint_options: t.Any,
    ) -> None:
        super().__init__(name, import_name, url_prefix=url_prefix, **blueprint_options)
        if version is not None and not re.fullmatch(r"[A-Za-z0-9._-]+", version):
            raise ValueError(f"An API version is a URL segment such as 'v1', not {version!r}.")
        self.version = version
        self.description = description
        self.lifecycle = Lifecycle(deprecated=deprecated, sunset=sunset, successor=successor)
        self.endpoint_defaults: dict[str, t.Any] = {
            "login_required": login_required,
            "tokens": tokens,
            "refuse_unknown_query": refuse_unknown_query,
        }
        self.endpoints: list[Endpoint] = []
        register_handlers(self)
        if self.lifecycle.headers():
            self.after_request(self.lifecycle.apply)

    # -- declaring endpoints ------------------------------------------------------------------------------

    def route(self, rule: str, **options: t.Unpack[RouteOptions]) -> Callable[[F], F]:  # type: ignore[override]
        """Declare an endpoint; decorate a view function or a :class:`flask.views.MethodView` class.

        :param rule: the URL rule, relative to the API's prefix (``/notes/<int:id>``).
        :param options: see :class:`RouteOptions`.
        """

        flask_options: dict[str, t.Any] = dict(options)
        endpoint = flask_options.pop("endpoint", None)

        def decorate(view: F) -> F:
            self.add_url_rule(rule, endpoint, view, **flask_options)
            return view

        return decorate

    def get(self, rule: str, **options: t.Unpack[RouteOptions]) -> Callable[[F], F]:  # type: ignore[override]
        """Declare a ``GET`` endpoint (``HEAD`` too); see :meth:`route`.

        :param rule: the URL rule.
        :param options: see :class:`RouteOptions`.
        """
        options["methods"] = ["GET"]
        return self.route(rule, **options)

    def post(self, rule: str, **options: t.Unpack[RouteOptions]) -> Callable[[F], F]:  # type: ignore[override]
        """Declare a ``POST`` endpoint; see :meth:`route`.

        :param rule: the URL rule.
        :param options: see :class:`RouteOptions`.
        """
        options["methods"] = ["POST"]
        return self.route(rule, **options)

    def put(self, rule: str, **options: t.Unpack[RouteOptions]) -> Callable[[F], F]:  # type: ignore[override]
        """Declare a ``PUT`` endpoint; see :meth:`route`.

        :param rule: the URL rule.
        :param options: see :class:`RouteOptions`.
        """
        options["methods"] = ["PUT"]
        return self.route(rule, **options)

    def patch(self, rule: str, **options: t.Unpack[RouteOptions]) -> Callable[[F], F]:  # type: ignore[override]
        """Declare a ``PATCH`` endpoint; see :meth:`route`.

        :param rule: the URL rule.
        :param options: see :class:`RouteOptions`.
        """
        options["methods"] = ["PATCH"]
        return self.route(rule, **options)

    def delete(self, rule: str, **options: t.Unpack[RouteOptions]) -> Callable[[F], F]:  # type: ignore[override]
        """Declare a ``DELETE`` endpoint; see :meth:`route`.

        :param rule: the URL rule.
        :param options: see :class:`RouteOptions`.
        """
        options["methods"] = ["DELETE"]
        return self.route(rule, **options)

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: t.Any = None,
        provide_automatic_options: bool | None = None,
        **options: t.Any,
    ) -> None:
        """Declare an endpoint: a view function, a class-based view (``NoteView.as_view("note")``) or a class.

        :param rule: the URL rule.
        :param endpoint: the endpoint name; the function's name, or the class's name in lower case.
        :param view_func: the view function, the function of ``View.as_view``, or a ``View`` subclass.
        :param provide_automatic_options: as for Flask.
        :param options: the options of :class:`RouteOptions`.
        :raises TypeError: the view's signature cannot be served (see :func:`erlen_api.endpoint.compile_endpoint`).
        """
        if view_func is None:
            raise TypeError(f"An API endpoint needs a view: {rule!r} was given none.")
        declared = {name: options.pop(name) for name in list(options) if name in OPTION_NAMES}
        if isinstance(view_func, type) and issubclass(view_func, View):
            view_func = view_func.as_view(endpoint or view_func.__name__.lower())
        view_class: type[View] | None = getattr(view_func, "view_class", None)
        methods = options.pop("methods", None) or getattr(view_func, "methods", None) or ["GET"]
        methods = sorted({method.upper() for method in methods})
        variables = rule_variables(rule)
        endpoints: dict[str, Endpoint] = {}
        for method in methods:
            target, bound = self._target(view_func, view_class, method)
            endpoints[method] = compile_endpoint(
                target,
                method=method,
                rule_arguments=variables,
                options=merged_options({**self.endpoint_defaults, **declared}, target),
                api=self,
                bound=bound,
            )
        self.endpoints.extend(endpoints.values())
        if provide_automatic_options is None:
            provide_automatic_options = getattr(view_func, "provide_automatic_options", None)
        super().add_url_rule(
            rule,
            endpoint,
            typed_view(view_func, endpoints),
            provide_automatic_options=provide_automatic_options,
            methods=methods,
            **options,
        )

    @staticmethod
    def _target(view_func: t.Any, view_class: type[View] | None, method: str) -> tuple[Callable[..., t.Any], bool]:
        """The function whose signature declares ``method``: the view, or the class view's method."""
        if view_class is None:
            return t.cast(Callable[..., t.Any], view_func), False
        if issubclass(view_class, MethodView):
            found = getattr(view_class, method.lower(), None)
            if found is None and method == "HEAD":
                found = getattr(view_class, "get", None)
            if found is None:
                raise TypeError(f"The class view {view_class.__name__} has no method {method.lower()}().")
            return t.cast(Callable[..., t.Any], found), True
        return view_class.dispatch_request, True

    # -- registration --------------------------------------------------------------------------------------

    def default_prefix(self, app: Flask) -> str:
        """The URL prefix on ``app`` when none is given: ``API_URL_PREFIX``, then ``/version`` if it has one.

        :param app: the app.
        """
        base = str(app.config.get("API_URL_PREFIX") or "/api").rstrip("/")
        return f"{base}/{self.version}" if self.version else base or "/"

    def register(self, app: App, options: dict[str, t.Any]) -> None:
        """Register on ``app`` (through ``app.register_blueprint``), checking what the endpoints require.

        :param app: the app, which enables the ``api`` plugin.
        :param options: the options of ``register_blueprint``.
        :raises erlen.PluginNotEnabledError: the app does not enable the ``api`` plugin.
        :raises ApiDeclarationError: an endpoint requires a permission nobody declares, or requires a user on an
            app that has no way to authenticate one.
        """
        flask_app = t.cast(Flask, app)
        state = state_of(flask_app)
        if options.get("url_prefix") is None and self.url_prefix is None:
            options = {**options, "url_prefix": self.default_prefix(flask_app)}
        self._check_security(flask_app)
        plugins = erlen.plugins_of(flask_app)
        if "forms" in plugins:
            from erlen_forms import csrf_exempt_blueprint

            csrf_exempt_blueprint(
                self, reason="erlen-api checks the CSRF header itself, on requests with the session cookie"
            )
        super().register(app, options)
        state.add_prefix(str(options.get("url_prefix") or self.url_prefix or "/"), self.lifecycle)
        state.spec = None

    def _check_security(self, app: Flask) -> None:
        plugins = erlen.plugins_of(app)
        permissions = sorted({e.options.permission for e in self.endpoints if e.options.permission is not None})
        needs_user = [e for e in self.endpoints if e.options.needs_login]
        if not needs_user:
            return
        if "auth" in plugins:
            from erlen_auth import UnknownPermissionError, require_known

            try:
                require_known(*permissions, app=app)
            except UnknownPermissionError as exc:
                raise ApiDeclarationError(f"The API {self.name!r}: {exc}", plugin="api") from None
        elif not plugins.implements("erlen_api_authenticate_token"):
            raise ApiDeclarationError(
                f"The API {self.name!r} has endpoints that need a user (login_required or a permission) but the app "
                "can authenticate nobody: enable the 'auth' plugin, or a plugin that implements "
                "erlen_api_authenticate_token.",
                plugin="api",
            )


def typed_view(view_func: Callable[..., t.Any], endpoints: Mapping[str, Endpoint]) -> Callable[..., Response]:
    """The view Flask calls: authenticate, parse and validate the inputs, call ``view_func``, serialise.

    :param view_func: the view function (or the function of a class view's ``as_view``).
    :param endpoints: the endpoint of each HTTP method.
    """

    @functools.wraps(view_func)
    def view(**path_values: t.Any) -> Response:
        # The request and the app once, rather than through their proxies for each attribute: each use of a
        # proxy's attribute fails a look-up on the proxy first (an AttributeError built and dropped).
        current = request._get_current_object()  # type: ignore[attr-defined]
        method = current.method
        endpoint = endpoints.get(method) or endpoints["GET" if method == "HEAD" else next(iter(endpoints))]
        if endpoint.response is not None:
            require_acceptable(current.environ)
        app = t.cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        authenticate_within_limits(endpoint, app, current)
        arguments = endpoint.parse(path_values, current)
        returned = view_func(**arguments)
        return make_response(app, endpoint, returned)

    setattr(view, ENDPOINTS_ATTRIBUTE, dict(endpoints))
    return view
