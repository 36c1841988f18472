"""App-wide protection against cross-site request forgery (CSRF).

Every request with a state-changing method (``POST``, ``PUT``, ``PATCH``,
``DELETE``: any but ``GET``, ``HEAD``, ``OPTIONS`` and ``TRACE``) to any
route of the app or of any plugin must carry a valid token, in the form
field ``csrf_token`` or in the header ``X-CSRF-Token``. Without one the
request is refused with a 400 before the view runs.

How tokens work: each session holds a random secret (in the Flask session,
so in the signed cookie by default, and every worker on every host accepts
it). A token is that secret signed with the app's ``SECRET_KEY`` and a time
stamp. Any token signed for the session's secret is valid until it expires
(``FORMS_CSRF_TIME_LIMIT``), so pages open in several tabs all keep working.

Views and blueprints authenticated by something other than the session
cookie (an API token, a webhook signature) are exempted explicitly, with a
reason, by :func:`csrf_exempt`, :func:`csrf_exempt_blueprint` or the hook
:func:`erlen_forms.hookspecs.erlen_forms_csrf_exempt`. A view that accepts
both the cookie and another credential is exempted for the requests that
carry the other credential only: ``csrf_exempt(reason=..., when=...)``.
"""

from __future__ import annotations

import hmac
import secrets
import typing as t
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, has_request_context, jsonify, request, session
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from markupsafe import Markup, escape

import erlen
from erlen import KeyCachingSigner

from .state import EXTENSION_KEY as FORMS_EXTENSION_KEY
from .state import FormsState, state_of

F = t.TypeVar("F", bound=Callable[..., t.Any])

#: The methods that never change state and are never checked.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: The usual methods that must carry a token; any method not in :data:`SAFE_METHODS` must too.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: The key of the session's CSRF secret in the Flask session.
SESSION_KEY = "_erlen_csrf"
#: The salt that keys CSRF tokens apart from other values signed with ``SECRET_KEY``.
SALT = "erlen-forms.csrf-token"
#: The attribute that marks an exempt view function or blueprint; it holds the reason.
EXEMPT_ATTRIBUTE = "_erlen_csrf_exempt"
#: The attribute of a view exempt only for some requests; it holds the condition (see :func:`csrf_exempt`).
EXEMPT_WHEN_ATTRIBUTE = "_erlen_csrf_exempt_when"


class CSRFError(Exception):
    """A request's CSRF token is missing or not valid.

    :param code: a short, stable reason: ``missing``, ``invalid``,
        ``expired``, ``no-session``, ``origin`` or ``no-secret-key``.
    :param message: what is wrong, for people.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Exemption:
    """An endpoint that is not checked, and why.

    :param endpoint: the endpoint name.
    :param reason: the reason given when it was exempted.
    :param source: what exempted it: ``view``, ``blueprint <name>`` or
        ``plugin <name>``.
    :param when: for an endpoint exempt only for some requests, the condition
        (called in the request, before the view); ``None`` when every request is exempt.
    """

    endpoint: str
    reason: str
    source: str
    when: Callable[[], bool] | None = None

    def applies(self) -> bool:
        """Whether the current request is exempt: always, or when :attr:`when` says so."""
        return self.when is None or bool(self.when())


def _check_reason(reason: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(
            "A CSRF exemption needs a reason, such as reason='authenticated by API token, not the session cookie'."
        )
    return reason.strip()


def csrf_exempt(*, reason: str, when: Callable[[], bool] | None = None) -> Callable[[F], F]:
    """Exempt a view from CSRF checks; decorate it below the route decorator.

    Only exempt views that do not rely on the session cookie for
    authentication (API tokens, webhook signatures)::

        @app.post("/api/items")
        @erlen_forms.csrf_exempt(reason="authenticated by bearer token")
        def create_item(): ...

    A view that browsers use with their cookies *and* scripts with another
    credential is exempted for the second kind of request only, by ``when``:
    a function of no arguments, called in the request before the view, that
    tells whether the request carries that credential. The view must then
    authenticate such a request by that credential alone, never by the
    cookie (else a forged request adding the credential's header would ride
    on the cookie)::

        def has_bearer() -> bool:
            return request.headers.get("Authorization", "").startswith("Bearer ")

        @app.post("/api/items")
        @erlen_forms.csrf_exempt(reason="Bearer requests are authenticated by the token only", when=has_bearer)
        def create_item(): ...

    Browsers cannot send an ``Authorization`` header to another site without
    that site's consent (CORS), which is what makes such a condition safe.
    :func:`erlen_forms.testing.assert_csrf_protected` treats such a view as
    protected: its requests without the credential must be refused.

    :param reason: why the view (or the requests ``when`` picks) is safe without a token;
        mandatory, listed by ``erlen check`` and ``erlen forms exempt``.
    :param when: exempt only the requests for which it returns true; every request by default.
    :raises ValueError: the reason is empty, or ``when`` is not callable.
    """
    text = _check_reason(reason)
    if when is not None and not callable(when):
        raise ValueError(f"csrf_exempt(when=...) takes a function of no arguments returning a bool, not {when!r}.")

    def decorate(view: F) -> F:
        setattr(view, EXEMPT_ATTRIBUTE, text)
        if when is not None:
            setattr(view, EXEMPT_WHEN_ATTRIBUTE, when)
        return view

    return decorate


def csrf_exempt_blueprint(blueprint: Blueprint, *, reason: str) -> Blueprint:
    """Exempt every view of ``blueprint`` (and of blueprints nested in it) from CSRF checks.

    :param blueprint: the blueprint, registered or not.
    :param reason: why its views are safe without a token; mandatory.
    :returns: the blueprint, so the call can wrap its creation.
    :raises ValueError: the reason is empty.
    """
    setattr(blueprint, EXEMPT_ATTRIBUTE, _check_reason(reason))
    return blueprint


# -- tokens ------------------------------------------------------------------------------------------------------


def _serializer(app: Flask) -> URLSafeTimedSerializer:
    key = app.config.get("SECRET_KEY")
    if not key:
        raise CSRFError(
            "no-secret-key",
            "CSRF protection needs the app's SECRET_KEY to sign tokens, and it is not set. "
            "Set SECRET_KEY (or ERLEN_SECRET_KEY), or turn CSRF protection off with FORMS_CSRF_ENABLED = false.",
        )
    fallbacks = [k for k in app.config.get("SECRET_KEY_FALLBACKS") or () if k]
    # itsdangerous signs with the last key and accepts any of them: old keys keep tokens valid during a rotation.
    keys = tuple(str(k) for k in (*fallbacks, key))
    state: FormsState | None = app.extensions.get(FORMS_EXTENSION_KEY)
    if state is None:  # the plugin is not enabled on this app: nothing to keep the serializer in
        return URLSafeTimedSerializer(list(keys), salt=SALT)
    cached = state.csrf_serializer
    if cached is not None and cached[0] == keys:
        return cached[1]
    # Made once per set of keys, each key derived once: building them cost every check and every token.
    state.csrf_derived_keys.clear()
    serializer = URLSafeTimedSerializer(
        list(keys), salt=SALT, signer=KeyCachingSigner, signer_kwargs={"derived_keys": state.csrf_derived_keys}
    )
    state.csrf_serializer = (keys, serializer)
    return serializer


def session_secret(store: MutableMapping[str, t.Any], *, create: bool) -> str | None:
    """The CSRF secret kept in a session, optionally creating it.

    :param store: the session: :data:`flask.session`, or the one a test
        client's ``session_transaction`` opens.
    :param create: make and store a new secret when the session has none.
    :returns: the secret, or ``None`` when there is none and ``create`` is false.
    """
    secret = store.get(SESSION_KEY)
    if not isinstance(secret, str) or not secret:
        if not create:
            return None
        secret = store[SESSION_KEY] = _new_secret()
    return secret


def _new_secret() -> str:
    """A new CSRF secret: 32 random bytes, URL-safe base64 (43 characters).

    Not hexadecimal: itsdangerous's serializer of the tokens (and Flask's of sessions, which Erlen's compresses
    only from :data:`erlen.cookie_sessions.COMPRESS_FROM` bytes on) compresses a payload with zlib when that makes
    it shorter, which a hexadecimal secret's 4 bits a character always did: every check of a token, and every
    request reading such a session, inflated it (about 30,000 instructions). A token of this secret does not
    compress.
    """
    return secrets.token_urlsafe(32)


def generate_token(app: Flask, secret: str) -> str:
    """Sign ``secret`` into a CSRF token for ``app``.

    :param app: the app whose ``SECRET_KEY`` signs the token.
    :param secret: the session's CSRF secret.
    """
    return _serializer(app).dumps(secret)


def csrf_token() -> str:
    """A CSRF token for the current session, creating the session's secret if needed.

    Available in templates as ``csrf_token()``. Each call may return a
    different string; all of them stay valid together.

    :raises RuntimeError: outside a request, or when ``SECRET_KEY`` is not set.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        serializer = _serializer(app)
    except CSRFError as exc:
        raise RuntimeError(exc.message) from None
    return serializer.dumps(session_secret(session, create=True))


def csrf_field() -> Markup:
    """A hidden input holding a CSRF token, for hand-written forms."""
    name = current_app.config.get("FORMS_CSRF_FIELD_NAME", "csrf_token")
    return Markup('<input type="hidden" name="{}" value="{}">').format(escape(name), csrf_token())


def reset_csrf_secret() -> None:
    """Give the session a new CSRF secret, invalidating every token issued so far.

    Call it when the user logs in or out, as you would rotate the session. The new secret is stored at once,
    so the session cookie of this response carries it: the pages that follow sign their tokens with it and
    leave the session as it is. (Dropping the secret instead left it to the first page with a form to make
    one, which changed the session, so that page set the cookie again.)
    """
    session[SESSION_KEY] = _new_secret()


def validate_token(token: str | None) -> None:
    """Check ``token`` against the current session.

    :param token: the token sent with the request, or ``None``.
    :raises CSRFError: with the reason it is not valid.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not token:
        raise CSRFError(
            "missing",
            "The CSRF token is missing. Send it in the form field "
            f"{app.config.get('FORMS_CSRF_FIELD_NAME', 'csrf_token')!r} or the header "
            f"{(app.config.get('FORMS_CSRF_HEADERS') or ['X-CSRF-Token'])[0]!r}.",
        )
    serializer = _serializer(app)
    time_limit = app.config.get("FORMS_CSRF_TIME_LIMIT")
    try:
        value = serializer.loads(token, max_age=time_limit)
    except SignatureExpired:
        raise CSRFError("expired", "The CSRF token has expired. Reload the page and try again.") from None
    except BadData:
        raise CSRFError("invalid", "The CSRF token is not valid.") from None
    secret = session_secret(session, create=False)
    if secret is None:
        raise CSRFError(
            "no-session",
            "The session has no CSRF secret: it may have expired or cookies may be blocked. "
            "Reload the page and try again.",
        )
    if not isinstance(value, str) or not hmac.compare_digest(value.encode(), secret.encode()):
        raise CSRFError("invalid", "The CSRF token does not belong to this session. Reload the page and try again.")


def _same_origin(url: str, trusted: Iterable[str]) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        # A malformed header ("https://[x") names no origin at all: refuse, never answer 500.
        return False
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    own = f"{request.scheme}://{request.host}".lower()
    return origin == own or origin in {o.rstrip("/").lower() for o in trusted}


def check_origin() -> None:
    """On HTTPS, refuse requests whose ``Origin`` (or ``Referer``) is another site.

    Controlled by ``FORMS_CSRF_SSL_STRICT``; origins listed in
    ``FORMS_CSRF_TRUSTED_ORIGINS`` are accepted too.

    :raises CSRFError: the request comes from another origin.
    """
    config = current_app.config
    if not request.is_secure or not config.get("FORMS_CSRF_SSL_STRICT", True):
        return
    trusted = config.get("FORMS_CSRF_TRUSTED_ORIGINS") or ()
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        if not _same_origin(origin, trusted):
            raise CSRFError("origin", f"The request comes from another origin ({origin}).")
        return
    referrer = request.referrer
    if not referrer:
        raise CSRFError("origin", "A secure request must say where it comes from (Origin or Referer header).")
    if not _same_origin(referrer, trusted):
        raise CSRFError("origin", "The request's Referer is another site.")


def token_from_request() -> str | None:
    """The token the current request carries, from a header or the form field."""
    config = current_app.config
    value = _token_from_headers()
    if value:
        return value
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        value = request.form.get(config.get("FORMS_CSRF_FIELD_NAME", "csrf_token"))
        if value:
            return value
    return None


def check_csrf(*, form_field: bool = True) -> None:
    """Check the current request as the app-wide protection does: its origin on HTTPS, then its token.

    For code that runs its own check in a view exempted from the app-wide one,
    such as an API that accepts both bearer tokens (exempt) and the session
    cookie (never exempt): it calls this for the cookie's requests and answers
    the :class:`CSRFError` in its own format. Safe methods are checked too:
    deciding which requests need the check is the caller's business. With
    ``FORMS_CSRF_ENABLED`` off it checks nothing.

    :param form_field: also take the token from the form field ``FORMS_CSRF_FIELD_NAME`` of a form body;
        ``False`` takes it from the headers ``FORMS_CSRF_HEADERS`` only, as a JSON API would.
    :raises CSRFError: the request comes from another origin, or its token is missing, expired or
        not this session's (:attr:`CSRFError.code` says which).
    :raises RuntimeError: outside a request.
    """
    if not has_request_context():
        raise RuntimeError("erlen_forms.check_csrf() checks the current request: call it in a request.")
    if not current_app.config.get("FORMS_CSRF_ENABLED", True):
        return
    check_origin()
    validate_token(token_from_request() if form_field else _token_from_headers())


def _token_from_headers() -> str | None:
    """The token the current request carries in one of the headers ``FORMS_CSRF_HEADERS``."""
    for header in current_app.config.get("FORMS_CSRF_HEADERS") or ():
        value = request.headers.get(header)
        if value:
            return value
    return None


# -- exemptions --------------------------------------------------------------------------------------------------


def exemption_for(app: Flask, endpoint: str) -> Exemption | None:
    """Why ``endpoint`` of ``app`` is exempt from CSRF checks, or ``None`` when it is checked.

    The answer is cached per app and endpoint.
    """
    cache = state_of(app).exemption_cache
    try:
        return cache[endpoint]
    except KeyError:
        pass
    found = _find_exemption(app, endpoint)
    cache[endpoint] = found
    return found


def _find_exemption(app: Flask, endpoint: str) -> Exemption | None:
    view = app.view_functions.get(endpoint)
    reason = getattr(view, EXEMPT_ATTRIBUTE, None)
    if reason:
        return Exemption(endpoint, reason, "view", getattr(view, EXEMPT_WHEN_ATTRIBUTE, None))
    state = state_of(app)
    if endpoint in state.hook_exemptions:
        plugin, reason = state.hook_exemptions[endpoint]
        return Exemption(endpoint, reason, f"plugin {plugin}")
    # Blueprint endpoints are "outer.inner.view": test each enclosing blueprint, innermost first.
    parts = endpoint.split(".")[:-1]
    for size in range(len(parts), 0, -1):
        name = ".".join(parts[:size])
        blueprint = app.blueprints.get(name)
        reason = getattr(blueprint, EXEMPT_ATTRIBUTE, None)
        if reason:
            return Exemption(endpoint, reason, f"blueprint {name}")
        if name in state.hook_exemptions:
            plugin, reason = state.hook_exemptions[name]
            return Exemption(endpoint, reason, f"plugin {plugin} (blueprint {name})")
    return None


def exemptions(app: Flask) -> list[Exemption]:
    """Every endpoint of ``app`` that is exempt from CSRF checks, sorted by endpoint."""
    found = (exemption_for(app, endpoint) for endpoint in sorted(app.view_functions))
    return [item for item in found if item is not None]


# -- enforcement -------------------------------------------------------------------------------------------------


def protect() -> t.Any:
    """Check the current request; return an error response, or ``None`` to let it through.

    Every method but the safe ones (:data:`SAFE_METHODS`) is checked, so a
    route accepting an unusual method (``PROPFIND``, ``PURGE``) is protected
    too. Runs before every view through the ``erlen_before_request`` hook.
    """
    if request.method in SAFE_METHODS:
        return None
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("FORMS_CSRF_ENABLED", True):
        return None
    if request.url_rule is None or request.endpoint is None:
        # Routing failed: let Flask answer 404 or 405; no view will run.
        return None
    exemption = exemption_for(app, request.endpoint)
    if exemption is not None and exemption.applies():
        return None
    try:
        check_origin()
        validate_token(token_from_request())
    except CSRFError as exc:
        return error_response(exc)
    return None


def wants_json() -> bool:
    """Whether the current request is JSON or prefers a JSON answer to HTML."""
    if request.is_json:
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def error_response(error: CSRFError) -> t.Any:
    """The 400 response refusing a request for ``error``: JSON or the page ``forms/csrf_error.html``."""
    current_app.logger.info("CSRF check failed for %s %s: %s", request.method, request.path, error.message)
    if wants_json():
        response = jsonify({"error": "csrf", "reason": error.code, "message": error.message})
    else:
        response = erlen.render_error_page(
            400,
            title="The form could not be accepted",
            detail=error.message,
            template="forms/csrf_error.html",
            reason=error.code,
            message=error.message,
        )
    response.status_code = 400
    return response
