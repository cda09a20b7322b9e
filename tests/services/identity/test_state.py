"""The embedded state store: expiry, single use, set-if-absent."""

from __future__ import annotations

from sim06.services.identity.pkce import s256, verify
from sim06.services.identity.state import MemoryStateStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_expiry_take_and_add() -> None:
    clock = Clock()
    store = MemoryStateStore(clock)
    store.put("code:a", {"v": 1}, 10)
    assert store.add("jti:x", {}, 5) is True
    assert store.add("jti:x", {}, 5) is False  # replay
    assert store.take("code:a") == {"v": 1}
    assert store.take("code:a") is None  # single use
    store.put("k", {"v": 2}, 3)
    clock.now = 6
    assert store.get("k") is None and store.add("jti:x", {}, 5) is True
    store.put("forever", {}, None)
    clock.now = 1e9
    assert len(store) == 1 and store.delete("forever") and not store.delete("forever")


def test_pkce_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert verify(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not verify("short", s256("short"))
