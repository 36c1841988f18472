"""A real OpenID Connect provider on loopback, for tests of signing in with providers.

:class:`TestProvider` is an Authlib authorization server (the authorization
code grant with PKCE and OpenID Connect's ``openid`` scope) in a small
Flask app, served by werkzeug in a thread on a free port of 127.0.0.1, with
a discovery document, a JWKS with a fresh RSA key, a token endpoint and a
userinfo endpoint. Nothing is mocked: the app under test fetches the
discovery document, the keys and the tokens over HTTP, as it would from Google.

.. code-block:: python

    from erlen_auth.testing_oidc import TestProvider

    with TestProvider() as provider:
        app = make_app(config={"AUTH_OIDC_PROVIDERS": {"test": provider.config()}})
        client = app.test_client()
        provider.sign_in("alice-1", "alice@example.com")  # who is signed in at the provider
        started = post_form(client, "/auth/oidc/test/login")  # to the provider's authorization endpoint
        back = provider.authorize(started.headers["Location"])  # the provider's answer: the app's callback
        client.get(back)  # the app checks everything and signs Alice in

Switches make it misbehave, for hostile tests: :attr:`TestProvider.id_token_claims`
overrides claims of the next ID tokens (``{"aud": "someone-else"}``,
``{"exp": 0}``; ``None`` removes a claim), :attr:`TestProvider.signing`
signs them otherwise (``"none"``: unsigned, ``"foreign"``: with a key the
JWKS does not hold, ``"hs256"``: with the client secret), and
:attr:`TestProvider.advertised_algorithms` is what the discovery document
claims to sign with.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import typing as t
from dataclasses import dataclass, field

import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.grants.util import create_half_hash
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, jsonify, request
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from werkzeug.serving import BaseWSGIServer, make_server

__all__ = ["ProviderAccount", "TestProvider"]

#: The key id of the provider's signing key in its JWKS.
KEY_ID = "erlen-test-key"


@dataclass
class ProviderAccount:
    """A person signed in at the test provider.

    :param subject: the ``sub`` claim.
    :param email: the ``email`` claim (``None``: not given).
    :param email_verified: the ``email_verified`` claim.
    :param name: the ``name`` claim.
    """

    subject: str
    email: str | None = None
    email_verified: bool = True
    name: str = "Test Person"


@dataclass
class _Client(ClientMixin):  # type: ignore[misc]  # Authlib is untyped
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    account: ProviderAccount
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


def _b64(data: dict[str, t.Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class TestProvider:
    """An OpenID Connect provider on 127.0.0.1, in a thread of this process; a context manager.

    :param client_id: the client the app under test is registered as.
    :param client_secret: its secret.
    :param redirect_uris: the callback addresses the client may use; by default the test client's
        address of the provider named ``"test"`` (``http://localhost/auth/oidc/test/callback``).
    """

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(
        self,
        *,
        client_id: str = "erlen-test-client",
        client_secret: str | None = None,
        redirect_uris: t.Iterable[str] = ("http://localhost/auth/oidc/test/callback",),
    ) -> None:
        self.client = _Client(client_id, client_secret or secrets.token_urlsafe(24), list(redirect_uris))
        #: The callback addresses the client may use: append the address of an app served on a port of its own.
        self.redirect_uris = self.client.redirect_uris
        self.key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID})
        self.account: ProviderAccount | None = None
        #: Claims to put in (or, with ``None``, take out of) the next ID tokens.
        self.id_token_claims: dict[str, t.Any] = {}
        #: How ID tokens are signed: ``"rsa"`` (properly), ``"none"`` (unsigned), ``"foreign"`` (another RSA key,
        #: with the JWKS's key id), ``"hs256"`` (HMAC with the client secret).
        self.signing = "rsa"
        #: What the discovery document says ID tokens are signed with.
        self.advertised_algorithms = ["RS256"]
        #: The form of every token request, for tests to inspect (the PKCE code_verifier, say).
        self.token_requests: list[dict[str, str]] = []
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, ProviderAccount] = {}
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app = self._make_app()

    # Serving

    def start(self) -> TestProvider:
        """Serve on a free port of 127.0.0.1 in a daemon thread."""
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self._thread = threading.Thread(target=self._serve, name="oidc-test-provider", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._server is not None
        # A short poll, so that stop() returns at once rather than after the default half second.
        self._server.serve_forever(poll_interval=0.01)

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> TestProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def issuer(self) -> str:
        """The provider's issuer, its base address: ``http://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("Start the provider first (provider.start(), or use it as a context manager).")
        return f"http://127.0.0.1:{self._server.server_port}"

    def config(self, *, label: str = "Test provider", **more: t.Any) -> dict[str, t.Any]:
        """The provider's entry for ``AUTH_OIDC_PROVIDERS``.

        :param label: its name on the buttons.
        :param more: other keys of the entry (``scopes``), or replacements.
        """
        return {
            "issuer": self.issuer,
            "client_id": self.client.client_id,
            "client_secret": self.client.client_secret,
            "label": label,
            **more,
        }

    # The person at the provider

    def sign_in(self, subject: str, email: str | None = None, *, verified: bool = True, name: str = "") -> None:
        """Make ``subject`` the person signed in at the provider, who consents to whatever is asked."""
        self.account = ProviderAccount(subject, email, verified, name or "Test Person")

    def sign_out(self) -> None:
        """Nobody is signed in: the authorization endpoint answers ``access_denied``."""
        self.account = None

    def authorize(self, url: str) -> str:
        """What the browser does at the provider: follow ``url`` (the authorization request) over HTTP.

        :returns: where the provider sends the browser back: the app's callback with ``code`` and ``state``
            (or ``error``), as a path with its query when it is the test client's ``http://localhost``.
        """
        response = requests.get(url, allow_redirects=False, timeout=10)
        if response.status_code != 302:
            raise AssertionError(f"The provider answered {response.status_code}: {response.text[:500]}")
        location = response.headers["Location"]
        return location.removeprefix("http://localhost")

    # The ID token

    def _sign(self, claims: dict[str, t.Any]) -> str:
        claims = {**claims, **self.id_token_claims}
        claims = {key: value for key, value in claims.items() if value is not None}
        if self.signing == "none":
            return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
        if self.signing == "hs256":
            return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(self.client.client_secret), ["HS256"])
        key = self.key
        if self.signing == "foreign":
            key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID})
        return jwt.encode({"alg": "RS256", "kid": KEY_ID}, claims, key)

    def _make_app(self) -> Flask:
        provider = self
        app = Flask("erlen_auth.testing_oidc")

        class Grant(AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS: t.ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, request: t.Any) -> None:
                data = request.payload.data
                with provider._lock:
                    provider._codes[code] = _Code(
                        code=code,
                        client_id=request.client.client_id,
                        redirect_uri=request.payload.redirect_uri,
                        scope=request.payload.scope,
                        account=request.user,
                        nonce=data.get("nonce"),
                        code_challenge=data.get("code_challenge"),
                        code_challenge_method=data.get("code_challenge_method"),
                    )

            def query_authorization_code(self, code: str, client: _Client) -> _Code | None:
                with provider._lock:
                    found = provider._codes.get(code)
                return found if found is not None and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: _Code) -> None:
                with provider._lock:  # a code works once
                    provider._codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: _Code) -> ProviderAccount:
                return authorization_code.account

        class OpenID(OpenIDCode):  # type: ignore[misc]
            def exists_nonce(self, nonce: str, request: t.Any) -> bool:
                return False

            def resolve_client_private_key(self, client: _Client) -> RSAKey:
                return provider.key

            def get_client_claims(self, client: _Client) -> dict[str, t.Any]:
                return {"iss": provider.issuer, "aud": [client.client_id]}

            def generate_user_info(self, user: ProviderAccount, scope: str) -> UserInfo:
                info = UserInfo(sub=user.subject, name=user.name)
                if "email" in scope.split() and user.email is not None:
                    info["email"] = user.email
                    info["email_verified"] = user.email_verified
                return info

            def encode_id_token(self, token: dict[str, t.Any], request: t.Any) -> str:
                claims = self.get_compatible_claims(request)
                claims.update(self.get_authorization_code_claims(request.authorization_code))
                at_hash = create_half_hash(token["access_token"], "RS256")
                if at_hash is not None:
                    claims["at_hash"] = at_hash.decode()
                claims.update(self.generate_user_info(request.user, token["scope"]))
                return provider._sign(claims)

        def query_client(client_id: str) -> _Client | None:
            return provider.client if client_id == provider.client.client_id else None

        def save_token(token: dict[str, t.Any], request: t.Any) -> None:
            with provider._lock:
                provider._tokens[token["access_token"]] = request.user

        server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
        server.register_grant(Grant, [CodeChallenge(required=True), OpenID(require_nonce=True)])

        @app.get("/.well-known/openid-configuration")
        def discovery() -> t.Any:
            base = provider.issuer
            return jsonify(
                issuer=base,
                authorization_endpoint=f"{base}/authorize",
                token_endpoint=f"{base}/token",
                jwks_uri=f"{base}/jwks",
                userinfo_endpoint=f"{base}/userinfo",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=provider.advertised_algorithms,
                code_challenge_methods_supported=["S256"],
                token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
                scopes_supported=["openid", "email", "profile"],
            )

        @app.get("/jwks")
        def jwks() -> t.Any:
            return jsonify(keys=[provider.key.as_dict(private=False)])

        @app.get("/authorize")
        def authorize() -> t.Any:
            account = provider.account
            try:
                grant = server.get_consent_grant(end_user=account)
            except OAuth2Error as error:
                return server.handle_error_response(None, error)
            return server.create_authorization_response(grant=grant, grant_user=account)

        @app.post("/token")
        def token() -> t.Any:
            provider.token_requests.append(request.form.to_dict())
            return server.create_token_response()

        @app.get("/userinfo")
        def userinfo() -> t.Any:
            bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
            with provider._lock:
                account = provider._tokens.get(bearer)
            if account is None:
                return {"error": "invalid_token"}, 401
            info: dict[str, t.Any] = {"sub": account.subject, "name": account.name}
            if account.email is not None:
                info.update(email=account.email, email_verified=account.email_verified)
            return info

        return app
