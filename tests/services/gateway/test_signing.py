"""Response signatures: detached ES256 JWS, signed one by one or queued together."""

from __future__ import annotations

import asyncio
from pathlib import Path

import jwt
import pytest

from sim06.services.common.keys import KeyStore
from sim06.services.gateway.signing import ResponseSigner


@pytest.fixture
def signer(tmp_path: Path) -> ResponseSigner:
    return ResponseSigner(KeyStore(tmp_path / "keys", alg="ES256"))


def _verify(signer: ResponseSigner, signature: str, body: bytes) -> dict[str, object]:
    key = jwt.PyJWK(signer.keys.current.public_jwk).key
    decoded = jwt.api_jws.decode_complete(
        signature, key, algorithms=["ES256"], detached_payload=body
    )
    return dict(decoded["header"])


@pytest.mark.anyio
async def test_signatures_asked_in_one_iteration_are_made_together(
    signer: ResponseSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []
    original = signer._sign_queued

    def counted() -> None:
        runs.append(len(signer._queue))
        original()

    monkeypatch.setattr(signer, "_sign_queued", counted)
    bodies = [f'{{"n":{i}}}'.encode() for i in range(5)]
    futures = [signer.sign_soon(body, f"{i:064x}") for i, body in enumerate(bodies)]
    assert not any(f.done() for f in futures)  # nothing signed on the caller's time
    signatures = await asyncio.gather(*futures)
    assert runs == [5]
    for i, (body, signature) in enumerate(zip(bodies, signatures, strict=True)):
        assert _verify(signer, signature, body)["sim06_rqh"] == f"{i:064x}"
    with pytest.raises(jwt.InvalidSignatureError):
        _verify(signer, signatures[0], bodies[1])


@pytest.mark.anyio
async def test_a_cancelled_exchange_leaves_the_others_signed(signer: ResponseSigner) -> None:
    first = signer.sign_soon(b"{}", None)
    second = signer.sign_soon(b"[]", None)
    first.cancel()
    assert _verify(signer, await second, b"[]")["alg"] == "ES256"


def test_a_batch_left_by_a_closed_loop_does_not_hold_up_the_next(
    signer: ResponseSigner,
) -> None:
    orphan_loop = asyncio.new_event_loop()
    signer._queue.append((b"{}", None, orphan_loop.create_future()))
    signer._queue_loop = orphan_loop
    orphan_loop.close()  # as a test's loop may close with a batch still queued

    async def two() -> list[str]:
        return list(await asyncio.gather(signer.sign_soon(b"[]"), signer.sign_soon(b"{}")))

    first, second = asyncio.run(two())
    assert _verify(signer, first, b"[]") and _verify(signer, second, b"{}")
    assert not signer._queue
