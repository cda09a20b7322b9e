"""Consents remembered per citizen and client until the citizen revokes them.

OIDC Core §3.1.2.4 lets the provider skip the consent screen when consent was given before;
the citizen must be able to take it back (Decree 13/2023/NĐ-CP art. 12: withdrawal of consent
to personal-data processing). Keys in the :class:`StateStore`:

    consent:{pin}:{client_id}   scopes granted and when (authoritative; no expiry)
    consents:{pin}              index of the clients with a consent (for the account page)

The state store has no key listing (Redis ``KEYS`` is not for production), hence the index.
It is updated read-modify-write: two consents given by the same citizen at the same instant
on two replicas could leave one out of the index (still honoured, not listed until the next
consent to that client); listing drops entries whose consent is gone.
"""

from __future__ import annotations

import time
from typing import Any

from sim06.services.identity.state import StateStore

__all__ = ["Consents"]


class Consents:
    """Remember, check, list and revoke consents."""

    def __init__(self, state: StateStore) -> None:
        self._state = state

    def given(self, pin: str, client_id: str, scopes: tuple[str, ...]) -> bool:
        """True if the citizen already granted every scope to the client."""
        record = self._state.get(f"consent:{pin}:{client_id}")
        return record is not None and set(scopes) <= set(record["scopes"])

    def remember(self, pin: str, client_id: str, scopes: tuple[str, ...]) -> None:
        """Record the consent (scopes granted before are kept: consent only widens)."""
        previous = self._state.get(f"consent:{pin}:{client_id}")
        merged = list(dict.fromkeys([*(previous or {}).get("scopes", []), *scopes]))
        self._state.put(
            f"consent:{pin}:{client_id}", {"scopes": merged, "at": int(time.time())}, None
        )
        index = self._state.get(f"consents:{pin}") or {"clients": []}
        if client_id not in index["clients"]:
            self._state.put(f"consents:{pin}", {"clients": [*index["clients"], client_id]}, None)

    def listed(self, pin: str) -> list[dict[str, Any]]:
        """``[{client_id, scopes, at}]`` of the citizen's live consents, in the order given."""
        index = self._state.get(f"consents:{pin}") or {"clients": []}
        out = []
        for client_id in index["clients"]:
            record = self._state.get(f"consent:{pin}:{client_id}")
            if record is not None:
                out.append({"client_id": client_id, "scopes": record["scopes"],
                            "at": record.get("at")})  # fmt: skip
        return out

    def revoke(self, pin: str, client_id: str) -> bool:
        """Forget the consent: the next authorization shows the consent screen again."""
        gone = self._state.delete(f"consent:{pin}:{client_id}")
        index = self._state.get(f"consents:{pin}")
        if index is not None and client_id in index["clients"]:
            rest = [c for c in index["clients"] if c != client_id]
            self._state.put(f"consents:{pin}", {"clients": rest}, None)
        return gone
