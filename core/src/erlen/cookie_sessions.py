"""Flask's signed-cookie sessions, with the signing work that does not change made once per key, not per request.

Flask's ``SecureCookieSessionInterface`` builds its serializer on every
request (which serializes an empty dict to learn that its serializer makes
text), and itsdangerous derives the signing key from ``SECRET_KEY`` with an
HMAC on every signature it makes or checks. itsdangerous also makes a new signer for each
cookie it checks. All of it depends only on the keys:
:class:`CookieSessionInterface` keeps them until ``SECRET_KEY`` or
``SECRET_KEY_FALLBACKS`` change. The cookies are Flask's own, byte for byte,
but for one thing: a session shorter than :data:`COMPRESS_FROM` is never
compressed (Flask's reads both kinds, so apps and workers may share cookies).
"""

from __future__ import annotations

import typing as t

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.serializer import Serializer

#: At most this many derived keys are kept per interface (a key and its fallbacks, with each salt).
MAX_DERIVED_KEYS = 64

#: The shortest session (its JSON, in bytes) that is compressed when zlib makes it shorter, as Flask compresses
#: every one. Below, it never is: a logged-in session (two random keys of 43 characters, a flag) sometimes
#: compressed by a few bytes, depending on its random values, and then every request inflated it (some 25,000 to
#: 30,000 instructions, far more than reading the few bytes saved). A session this long or longer compresses as in
#: Flask, which keeps big ones under the 4 KiB that browsers allow a cookie.
COMPRESS_FROM = 1024


class KeyCachingSigner(TimestampSigner):
    """An itsdangerous :class:`~itsdangerous.TimestampSigner` deriving each key once, into ``derived_keys``.

    :param secret_key: as for :class:`~itsdangerous.Signer`: a key, or the keys oldest first.
    :param salt: as for :class:`~itsdangerous.Signer`.
    :param derived_keys: where derived keys are kept, by secret key and salt; shared by the signers of one
        serializer, which makes a new signer for each value it signs or checks.
    :param kwargs: ``key_derivation``, ``digest_method`` and the rest, as for :class:`~itsdangerous.Signer`;
        fixed for every signer sharing ``derived_keys``.
    """

    def __init__(
        self,
        secret_key: t.Any,
        salt: str | bytes | None = b"itsdangerous.Signer",
        *,
        derived_keys: dict[tuple[t.Any, bytes], bytes],
        **kwargs: t.Any,
    ) -> None:
        super().__init__(secret_key, salt, **kwargs)
        self.derived_keys = derived_keys

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        """The key derived from ``secret_key`` (the newest key by default), derived once.

        :param secret_key: the secret key to derive from.
        """
        lookup = (self.secret_keys[-1] if secret_key is None else secret_key, self.salt)
        derived = self.derived_keys.get(lookup)
        if derived is None:
            derived = super().derive_key(secret_key)
            if len(self.derived_keys) < MAX_DERIVED_KEYS:
                self.derived_keys[lookup] = derived
        return derived


class SignerReusingSerializer(URLSafeTimedSerializer):
    """An itsdangerous :class:`~itsdangerous.URLSafeTimedSerializer` making its signer once per salt, not per call.

    itsdangerous builds a new signer (its keys listed and encoded anew) for every value it signs or checks;
    a signer keeps nothing of one call for the next, so one per salt serves every call, from any thread.
    The signatures are itsdangerous' own.
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._signers: dict[t.Any, TimestampSigner] = {}

    def dump_payload(self, obj: t.Any) -> bytes:
        """``obj`` as the cookie's payload: its JSON in URL-safe base64, compressed first only from
        :data:`COMPRESS_FROM` bytes on (then as itsdangerous does it: when zlib makes it shorter).

        :param obj: the session's data.
        """
        json = Serializer.dump_payload(self, obj)
        if len(json) < COMPRESS_FROM:
            return base64_encode(json)
        return super().dump_payload(obj)

    def make_signer(self, salt: str | bytes | None = None) -> TimestampSigner:
        """The signer of ``salt`` (the serializer's by default), made on first use.

        :param salt: as for :meth:`~itsdangerous.Serializer.make_signer`.
        """
        signer = self._signers.get(salt)
        if signer is None:
            signer = t.cast(TimestampSigner, super().make_signer(salt))
            if len(self._signers) < MAX_DERIVED_KEYS:
                self._signers[salt] = signer
        return signer


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session interface, its serializer made once per ``SECRET_KEY`` (and fallbacks).

    Erlen installs one on each app that uses Flask's default interface; an app that sets its own
    ``session_interface`` keeps it.
    """

    def __init__(self) -> None:
        self._keys: tuple[t.Any, tuple[t.Any, ...]] | None = None
        self._serializer: URLSafeTimedSerializer | None = None
        self._derived_keys: dict[tuple[t.Any, bytes], bytes] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """The serializer signing ``app``'s session cookies, as Flask's, kept while the keys stay the same.

        :param app: the app whose ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` sign the cookies.
        :returns: ``None`` without a ``SECRET_KEY`` (then Flask has no session).
        """
        secret_key = app.secret_key
        if not secret_key:
            return None
        keys = (secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if keys == self._keys:
            return self._serializer
        if keys[0] != (self._keys or (None,))[0]:
            self._derived_keys.clear()  # the old key's derivations stay in memory no longer than needed
        serializer = SignerReusingSerializer(
            [*keys[1], keys[0]],  # itsdangerous signs with the last key and accepts any of them
            salt=self.salt,
            serializer=self.serializer,
            signer=KeyCachingSigner,
            signer_kwargs={
                "key_derivation": self.key_derivation,
                "digest_method": self.digest_method,
                "derived_keys": self._derived_keys,
            },
        )
        self._keys, self._serializer = keys, serializer
        return serializer

    def save_session(self, app: Flask, session: t.Any, response: t.Any) -> None:
        """Flask's, without working out the cookie's domain, path and flags when there is no cookie to set.

        Flask reads six settings before it looks whether the session changed; most responses set no cookie.

        :param app: the app.
        :param session: the request's session.
        :param response: the response, which gets ``Vary: Cookie`` when the session was read.
        """
        # In Flask's order: whether the session was read is taken before should_set_cookie reads ``permanent``
        # (which, before Flask 3.1.3, counts as reading it), and an empty session is never asked.
        accessed = session.accessed
        if not session.modified and (not session or not self.should_set_cookie(app, session)):
            if accessed:
                _vary_on_cookie(response)
            return
        super().save_session(app, session, response)


def _vary_on_cookie(response: t.Any) -> None:
    """Add ``Cookie`` to the response's ``Vary``, as Flask does; set the header outright when there is none.

    ``response.vary`` parses the header into a set and writes it back, for every response that read the session.

    :param response: the response.
    """
    headers = response.headers
    if "Vary" in headers:
        response.vary.add("Cookie")
    else:
        headers["Vary"] = "Cookie"


def install(app: Flask) -> None:
    """Give ``app`` a :class:`CookieSessionInterface`, unless it set a session interface of its own.

    :param app: the app being set up.
    """
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = CookieSessionInterface()
