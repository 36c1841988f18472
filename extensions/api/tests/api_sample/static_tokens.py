"""Bearer tokens without a database: ``token-<name>`` acts for a user called ``<name>`` with every permission."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

import erlen
from erlen_api import TokenIdentity

PLUGIN = erlen.Plugin(name="api_sample_static_tokens", requires=["api"])


@dataclass(frozen=True)
class TokenUser:
    """A user a token stands for."""

    name: str
    is_authenticated: bool = True

    def can(self, permission: str) -> bool:
        return True


@erlen.hookimpl
def erlen_api_authenticate_token(app: Flask, token: str) -> TokenIdentity | None:
    kind, _, name = token.partition("-")
    return TokenIdentity(TokenUser(name)) if kind == "token" and name else None
