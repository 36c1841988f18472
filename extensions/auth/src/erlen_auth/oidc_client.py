"""Authlib's client of an OpenID Connect provider, checking what the provider publishes.

Imported only by an app with providers (``AUTH_OIDC_PROVIDERS``): Authlib brings
Requests and a JOSE library, which an app without providers has no use for.
"""

from __future__ import annotations

import typing as t

from authlib.integrations.flask_client import FlaskOAuth2App, OAuth

from .oidc import SIGNING_ALGORITHMS, ProviderConfig, ProviderError, _secure_url


class OIDCClient(FlaskOAuth2App):  # type: ignore[misc]  # Authlib is untyped
    """Authlib's Flask client of one provider, checking the discovery document and the ID token's signature algorithm.

    ``provider`` is set right after registration.
    """

    provider: ProviderConfig

    def load_server_metadata(self) -> dict[str, t.Any]:
        loaded = "_loaded_at" in self.server_metadata
        metadata: dict[str, t.Any] = super().load_server_metadata()
        if not loaded:
            try:
                _check_metadata(self.provider, metadata)
            except ProviderError:
                self.server_metadata.clear()  # fetched again next time: the provider may be fixed by then
                raise
        return metadata

    def claims_options(self) -> dict[str, t.Any]:
        """What Authlib checks the ID token's claims against: the issuer(s) and this client as the audience."""
        metadata = self.load_server_metadata()
        issuers = list(self.provider.issuers) or [metadata["issuer"]]
        return {
            "iss": {"essential": True, "values": issuers},
            # Authlib checks the audience only through azp by default: a token issued to another client of the same
            # provider, naming this one as azp, would pass.
            "aud": {"essential": True, "value": self.provider.client_id},
            "sub": {"essential": True},
        }


def _check_metadata(provider: ProviderConfig, metadata: dict[str, t.Any]) -> None:
    """Check ``metadata``, a discovery document, and keep only the signature algorithms accepted.

    :raises ProviderError: it lacks an endpoint, an endpoint is not HTTPS, or its issuer is not the configured one.
    """
    where = f"The discovery document of the OpenID Connect provider {provider.name!r} ({provider.discovery_url})"
    issuer = metadata.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise ProviderError(f"{where} names no issuer.")
    if provider.issuers and issuer not in provider.issuers:
        raise ProviderError(
            f"{where} names the issuer {issuer!r}, not the configured {provider.issuers[0]!r}: "
            "correct issuer or discovery_url in AUTH_OIDC_PROVIDERS."
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        url = metadata.get(key)
        if not isinstance(url, str) or not _secure_url(url):
            raise ProviderError(f"{where} gives no usable {key} (an https:// address): {url!r}.")
    advertised = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    accepted = [alg for alg in advertised if alg in SIGNING_ALGORITHMS]
    if not accepted:
        raise ProviderError(
            f"{where} signs ID tokens only with {advertised!r}; accepted: {', '.join(SIGNING_ALGORITHMS)}."
        )
    # Authlib lets through what the document lists: "none" must never be among them.
    metadata["id_token_signing_alg_values_supported"] = accepted


class OIDCRegistry(OAuth):  # type: ignore[misc]  # Authlib is untyped
    """Authlib's registry of an app's clients, making :class:`OIDCClient` s."""

    oauth2_client_cls = OIDCClient


__all__ = ["OIDCClient", "OIDCRegistry"]
