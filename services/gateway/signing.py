"""Binding responses to requests, and signing them.

``X-Request-Hash`` is the hex SHA-256 of ``METHOD \\n PATH?QUERY \\n MaYeuCau \\n
hex(SHA-256(body))``, as X-Road's ``X-Road-Request-Hash`` ties a response to the exact request.
``X-JWS-Signature`` is a JWS with a detached payload (RFC 7515 Appendix F) in the unencoded
form of RFC 7797 (``"b64": false``, ``"crit": ["b64"]``): the compact ``protected..signature``
whose signing input is ``protected`` + ``.`` + the response body bytes exactly as sent (what
PyJWT's ``detached_payload`` and jose4j/nimbus verify). The protected header carries the request
hash (``sim06_rqh``) so the signature covers the binding too. Keys: the gateway's ES256 key set,
published at ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import cast

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from sim06.services.common.keys import KeyStore

_ES256 = ec.ECDSA(hashes.SHA256())  # immutable: built once, not per response


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()  # every GET's body


def request_hash(method: str, path: str, request_id: str, body: bytes) -> str:
    """Hex SHA-256 binding a response to (method, path with query, request id, body)."""
    body_digest = hashlib.sha256(body).hexdigest() if body else _EMPTY_DIGEST
    text = f"{method.upper()}\n{path}\n{request_id}\n{body_digest}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseSigner:
    """Detached ES256 JWS over response bodies with the gateway's current key."""

    def __init__(self, keys: KeyStore) -> None:
        if keys.alg != "ES256":
            raise ValueError("the gateway signs responses with ES256")
        self.keys = keys
        # The protected header without sim06_rqh, as JSON, per key id: every response signed
        # with one key shares it, so only the request hash is spliced in per response.
        self._prefix: dict[str, bytes] = {}
        # sign_soon's queue and the loop it will be signed on.
        self._queue: list[tuple[bytes, str | None, asyncio.Future[str]]] = []
        self._queue_loop: asyncio.AbstractEventLoop | None = None

    def _header_json(self, kid: str, request_hash: str | None) -> bytes:
        prefix = self._prefix.get(kid)
        if prefix is None:
            header = {"alg": "ES256", "kid": kid, "b64": False, "crit": ["b64"]}
            prefix = self._prefix[kid] = orjson.dumps(header)[:-1]
        if request_hash is None:
            return prefix + b"}"
        # orjson.dumps(header | {"sim06_rqh": request_hash}), without re-serialising the rest.
        return prefix + b',"sim06_rqh":' + orjson.dumps(request_hash) + b"}"

    def sign(self, body: bytes, request_hash: str | None = None) -> str:
        """``protected..signature`` (RFC 7515 Appendix F) over ``body``."""
        key = self.keys.current
        if key.kid not in self._prefix:  # a new key: check its type once, not per response
            assert isinstance(key.private_key, ec.EllipticCurvePrivateKey)
        private = cast(ec.EllipticCurvePrivateKey, key.private_key)
        protected = b64url(self._header_json(key.kid, request_hash))
        signing_input = protected.encode("ascii") + b"." + body
        r, s = decode_dss_signature(private.sign(signing_input, _ES256))
        return f"{protected}..{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def sign_soon(self, body: bytes, request_hash: str | None = None) -> asyncio.Future[str]:
        """:meth:`sign` as a future, signed together with the others asked for in this loop
        iteration (on the loop, after the callbacks already ready).

        Back-to-back ECDSA signatures find the curve's tables and code in the CPU caches; one
        interleaved with request handling costs about a third more. An exchange asks before it
        awaits its audit commit, so the signature is ready when the commit is.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        if self._queue and self._queue_loop is not loop:  # another loop's batch is pending
            owner = self._queue_loop
            if owner is None or not owner.is_closed():
                future.set_result(self.sign(body, request_hash))
                return future
            self._queue = []  # that loop closed first: nobody awaits those any more
        self._queue.append((body, request_hash, future))
        if len(self._queue) == 1:
            self._queue_loop = loop
            loop.call_soon(self._sign_queued)
        return future

    def _sign_queued(self) -> None:
        queue, self._queue = self._queue, []
        for body, request_hash, future in queue:
            if future.done():  # its exchange was cancelled
                continue
            try:
                future.set_result(self.sign(body, request_hash))
            except Exception as exc:  # a bug: the exchange that awaits it reports it
                future.set_exception(exc)
