"""A software WebAuthn authenticator and browser, to drive the passkey endpoints with real signed data.

It makes P-256 (COSE EC2, ES256) credentials with "none" attestation, as
platform authenticators do, and answers ``navigator.credentials.get`` with a
signed assertion; every part a browser or authenticator would fill in can be
overridden to forge hostile answers (origin, relying party id, challenge,
ceremony type, flags, counter, user handle).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import typing as t
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers.encode_cbor import encode_cbor

#: Authenticator data flags (WebAuthn §6.1).
USER_PRESENT, USER_VERIFIED, ATTESTED = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftCredential:
    """A credential the authenticator keeps: its id, private key, user handle and counter."""

    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    """An authenticator with user verification and discoverable credentials, and the browser in front of it.

    :param origin: the origin the "browser" reports in the client data.
    :param rp_id: the relying party id it signs for (the one in the options, unless overridden).
    :param counter_step: how much the signature counter grows per use (0: no counter, as synced passkeys).
    """

    origin: str = "http://localhost"
    rp_id: str | None = None
    counter_step: int = 1
    credentials: list[SoftCredential] = field(default_factory=list)

    def create(
        self,
        options: dict[str, t.Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        ceremony: str = "webauthn.create",
        user_verified: bool = True,
        credential_id: bytes | None = None,
    ) -> dict[str, t.Any]:
        """A new credential for ``options`` (``navigator.credentials.create``'s as JSON), as the browser sends it."""
        rp = rp_id or self.rp_id or options["rp"]["id"]
        key = ec.generate_private_key(ec.SECP256R1())
        credential = SoftCredential(
            id=credential_id or os.urandom(32), key=key, rp_id=rp, user_handle=from_b64url(options["user"]["id"])
        )
        numbers = key.public_key().public_numbers()
        cose_key = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        attested = bytes(16) + len(credential.id).to_bytes(2, "big") + credential.id + encode_cbor(cose_key)
        flags = USER_PRESENT | ATTESTED | (USER_VERIFIED if user_verified else 0)
        auth_data = hashlib.sha256(rp.encode()).digest() + bytes([flags]) + (0).to_bytes(4, "big") + attested
        client_data = self._client_data(ceremony, challenge or options["challenge"], origin)
        self.credentials.append(credential)
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})),
                "transports": ["internal", "hybrid"],
            },
        }

    def get(
        self,
        options: dict[str, t.Any],
        *,
        credential: SoftCredential | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        challenge: str | None = None,
        ceremony: str = "webauthn.get",
        user_verified: bool = True,
        sign_count: int | None = None,
        user_handle: bytes | None = None,
    ) -> dict[str, t.Any]:
        """An assertion for ``options`` (``navigator.credentials.get``'s as JSON), as the browser sends it.

        Uses ``credential``, else the first allowed one it holds, else (discoverable) its latest.
        """
        if credential is None:
            allowed = {from_b64url(item["id"]) for item in options.get("allowCredentials") or ()}
            usable = [item for item in self.credentials if not allowed or item.id in allowed]
            assert usable, "the authenticator holds none of the allowed credentials"
            credential = usable[-1]
        rp = rp_id or self.rp_id or options.get("rpId") or credential.rp_id
        if sign_count is None:
            credential.sign_count += self.counter_step
            sign_count = credential.sign_count
        flags = USER_PRESENT | (USER_VERIFIED if user_verified else 0)
        auth_data = hashlib.sha256(rp.encode()).digest() + bytes([flags]) + sign_count.to_bytes(4, "big")
        client_data = self._client_data(ceremony, challenge or options["challenge"], origin)
        signature = credential.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64url(credential.id),
            "rawId": b64url(credential.id),
            "type": "public-key",
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(user_handle if user_handle is not None else credential.user_handle),
            },
        }

    def _client_data(self, ceremony: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": ceremony, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        ).encode()
