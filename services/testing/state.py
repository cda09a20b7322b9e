"""Snapshot and restore of a service's mutable state, between an integrator's tests.

Each service keeps state a test can leave behind: the gateway's replay caches (``X-MaYeuCau``,
client-assertion ``jti``), quota windows and agencies added through the admin API; identity's
state store (codes, sessions, consents, registered clients); the fault controller; the contract
journal; the expectations. Each *part* is a pair of callables registered on ``app.state``
(:func:`register_part`): ``snapshot() -> token`` and ``restore(token)``. The parts of the
known services are found by :func:`discover_parts`; any app can add its own.

The gateway's audit log is a hash-chained ledger: it is never rolled back.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from starlette.datastructures import State

__all__ = ["Part", "StateParts", "discover_parts", "parts_of", "register_part"]

Snapshot = Callable[[], Any]
Restore = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of mutable state and how to save and bring it back; ``initial`` (optional)
    gives the state the owner was configured with, when it knows it better than a capture."""

    name: str
    snapshot: Snapshot
    restore: Restore
    initial: Snapshot | None = None


class StateParts:
    """The parts of one app, the restore point, and the state at startup."""

    def __init__(self) -> None:
        self.parts: dict[str, Part] = {}
        self.startup: dict[str, Any] | None = None
        self.saved: dict[str, Any] | None = None
        self.named: dict[str, dict[str, Any]] = {}  # named restore points (scenarios)
        self._lock = threading.Lock()

    def add(self, part: Part) -> None:
        self.parts[part.name] = part

    def capture(self, names: list[str] | None = None) -> dict[str, Any]:
        """A snapshot of the named parts (all by default)."""
        chosen = self._select(names)
        with self._lock:
            return {name: self.parts[name].snapshot() for name in chosen}

    def capture_startup(self) -> dict[str, Any]:
        """The startup point: each part's configured state where it has one, else a capture."""
        with self._lock:
            return {
                name: (part.initial or part.snapshot)() for name, part in sorted(self.parts.items())
            }

    def restore(self, tokens: dict[str, Any], names: list[str] | None = None) -> list[str]:
        """Bring the named parts (all by default) back to ``tokens``; the names restored."""
        chosen = [n for n in self._select(names) if n in tokens]
        with self._lock:
            for name in chosen:
                self.parts[name].restore(tokens[name])
        return chosen

    def _select(self, names: list[str] | None) -> list[str]:
        if names is None:
            return sorted(self.parts)
        unknown = sorted(set(names) - set(self.parts))
        if unknown:
            raise KeyError(f"unknown state parts {unknown}; this service has {sorted(self.parts)}")
        return sorted(set(names))


def parts_of(state: State) -> StateParts:
    """The :class:`StateParts` kept on ``app.state`` (created on first use)."""
    parts = getattr(state, "sim06_state_parts", None)
    if parts is None:
        parts = StateParts()
        state.sim06_state_parts = parts
    assert isinstance(parts, StateParts)
    return parts


def register_part(state: State, name: str, snapshot: Snapshot, restore: Restore) -> None:
    """Register a part on ``app.state`` (a service's own hook)."""
    parts_of(state).add(Part(name, snapshot, restore))


# --- the parts of sim06's own services ------------------------------------------------------


def _replay_part(name: str, cache: Any) -> Part:
    # services.gateway.replay.ReplayCache: a dict of expiries and a heap of deadlines.
    def snapshot() -> Any:
        return dict(cache._expiry), list(cache._deadlines)

    def restore(token: Any) -> None:
        cache._expiry = dict(token[0])
        cache._deadlines = list(token[1])

    return Part(name, snapshot, restore)


def _dict_part(name: str, owner: Any, attribute: str) -> Part:
    def snapshot() -> Any:
        return dict(getattr(owner, attribute))

    def restore(token: Any) -> None:
        setattr(owner, attribute, dict(token))

    return Part(name, snapshot, restore)


def _agencies_part(directory: Any) -> Part:
    # services.gateway.agencies.AgencyDirectory: agencies are frozen, the two indexes are not.
    def snapshot() -> Any:
        with directory._lock:
            return dict(directory._by_code), dict(directory._by_client)

    def restore(token: Any) -> None:
        with directory._lock:
            directory._by_code = dict(token[0])
            directory._by_client = dict(token[1])

    return Part("gateway.agencies", snapshot, restore)


def _memory_store_part(store: Any, dynamic_clients: Any) -> Part:
    # services.identity.state.MemoryStateStore; values are small JSON dicts: copy them deeply
    # so a later in-place change cannot leak into the snapshot.
    def snapshot() -> Any:
        return copy.deepcopy(store._data), list(store._expiry)

    def restore(token: Any) -> None:
        store._data = copy.deepcopy(token[0])
        store._expiry = list(token[1])
        if isinstance(dynamic_clients, dict):
            dynamic_clients.clear()  # parsed registrations: re-read from the store on demand

    return Part("identity.state", snapshot, restore)


def _faults_part(controller: Any) -> Part:
    def snapshot() -> Any:
        with controller._lock:
            return replace(controller.state, services=list(controller.state.services))

    def restore(token: Any) -> None:
        if getattr(controller, "shared", None) is not None:
            # Replicas share the state through Redis: publish the reset so all of them see it.
            from sim06.services.common.faults import FaultUpdate

            controller.update(FaultUpdate(**asdict(token)))
            return
        with controller._lock:
            controller.state = replace(token, services=list(token.services))
            controller._rngs.clear()  # the same seed replays the same draws from the start

    def initial() -> Any:
        start = getattr(controller, "initial", None)
        return snapshot() if start is None else replace(start, services=list(start.services))

    return Part("faults", snapshot, restore, initial)


def _journal_part(journal: Any) -> Part:
    # services.contract.journal.Journal, in memory or SQLite (rows above the snapshot go).
    def snapshot() -> Any:
        with journal._lock:
            if journal._db is None:
                return ("memory", list(journal._memory), journal._seq)
        return ("sqlite", journal.recorded())

    def restore(token: Any) -> None:
        with journal._lock:
            if token[0] == "memory":
                journal._memory = deque(token[1], maxlen=journal.size)
                journal._seq = token[2]
            elif journal._db is not None:
                journal._db.execute("DELETE FROM exchange WHERE seq > ?", (token[1],))

    return Part("journal", snapshot, restore)


def _events_part(store: Any) -> Part:
    # The registry's civil-status events: the overlay over the immutable seeded population.
    # Its startup point is "no event" (the seeded population), whatever the file held.
    return Part(
        "registry.events",
        snapshot=store.dump_events,
        restore=store.load_events,
        initial=lambda: None,
    )


def discover_parts(state: State) -> StateParts:
    """Register the parts of whatever sim06 service objects ``app.state`` holds."""
    parts = parts_of(state)
    gateway = getattr(state, "gateway", None)
    if gateway is not None and "gateway.replay" not in parts.parts:
        parts.add(_replay_part("gateway.replay", gateway.request_ids))
        parts.add(_replay_part("gateway.assertions", gateway.tokens.replay))
        parts.add(Part("gateway.quota", gateway.quota.snapshot, gateway.quota.restore))
        parts.add(_agencies_part(gateway.agencies))
    provider = getattr(state, "provider", None)
    if provider is not None and "identity.state" not in parts.parts:
        store = provider.state
        if hasattr(store, "_data") and hasattr(store, "_expiry"):
            registry = getattr(provider, "registry", None)
            parts.add(_memory_store_part(store, getattr(registry, "_dynamic", None)))
    events = getattr(state, "event_store", None)
    if events is not None and "registry.events" not in parts.parts:
        parts.add(_events_part(events))
    faults = getattr(state, "faults", None)
    if faults is not None and "faults" not in parts.parts:
        parts.add(_faults_part(faults))
    journal = getattr(state, "journal", None)
    if journal is not None and "journal" not in parts.parts:
        parts.add(_journal_part(journal))
    return parts
