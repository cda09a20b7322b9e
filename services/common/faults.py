"""Fault injection and latency profiles for every service: the runtime state and its draws.

Precedence (as MockPass does): a request header beats the runtime state (admin API or console),
which starts from the settings, which default to no delay and no fault.

    X-Sim-Latency-Profile: typical     profile of this request (ideal, typical, evening-peak, ...)
    X-Sim-Fault: reset                 fault of this request (timeout, reset, truncated,
                                       http_503, or none to suppress the configured one)

Determinism: each service draws from its own ``random.Random(f"{seed}:{service}")``, two
numbers per request (delay, fault), whatever the profile; so the same seed replays the same
sequence of delays and faults for the same sequence of requests. Changing the seed through the
admin API restarts every sequence.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.latency import FAULT_KINDS, ProfileBook, sample_delay
from services.common.settings import Settings

FaultKind = Literal["timeout", "reset", "truncated", "http_503"]
PROFILE_HEADER = "x-sim-latency-profile"
FAULT_HEADER = "x-sim-fault"
SERVICES = ("gateway", "registry", "identity", "procedures", "admin")


class InvalidOverride(ValueError):
    """A request header names an unknown profile or fault."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one request."""

    profile: str
    delay_ms: float
    fault: str | None


@dataclass(slots=True)
class FaultState:
    """The runtime configuration (what ``GET /__sim06/faults`` shows)."""

    profile: str
    fault: str | None
    rate: float
    services: list[str]
    seed: int
    hold_seconds: float
    retry_after: int


class FaultUpdate(BaseModel):
    """Body of ``PUT /__sim06/faults``: the fields to change (``fault: null`` clears it)."""

    model_config = ConfigDict(extra="forbid")

    profile: str | None = None
    fault: FaultKind | None = None
    rate: float | None = Field(default=None, ge=0.0, le=1.0)
    services: list[str] | None = None
    seed: int | None = None
    hold_seconds: float | None = Field(default=None, gt=0, le=3600)
    retry_after: int | None = Field(default=None, ge=0, le=86_400)


@dataclass(slots=True)
class Exchange:
    """One request as the journal of the admin console shows it."""

    at: float
    service: str
    method: str
    path: str
    status: int
    ms: float
    profile: str
    fault: str | None


@dataclass
class FaultController:
    """Shared by the services of one process (``sim06 up``): one state, one draw per service."""

    state: FaultState
    book: ProfileBook = field(default_factory=ProfileBook)
    journal: deque[Exchange] = field(default_factory=lambda: deque(maxlen=500))
    _rngs: dict[str, random.Random] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # The state as configured at start: what a test-harness reset "to startup" restores, even
    # if the state was changed (PUT /__sim06/faults) before anything else saw a request.
    initial: FaultState | None = None

    def __post_init__(self) -> None:
        if self.initial is None:
            self.initial = replace(self.state, services=list(self.state.services))

    @classmethod
    def from_settings(cls, settings: Settings) -> FaultController:
        book = ProfileBook.load(settings.latency_profiles_file)
        state = FaultState(
            profile=book.resolve(settings.latency_profile),
            fault=settings.fault,
            rate=settings.fault_rate,
            services=list(settings.fault_services),
            seed=settings.fault_seed,
            hold_seconds=settings.fault_hold_seconds,
            retry_after=settings.fault_retry_after,
        )
        return cls(state=state, book=book)

    def snapshot(self) -> dict[str, Any]:
        """The state, the known profiles and fault kinds (JSON-ready)."""
        with self._lock:
            data = asdict(self.state)
        data["profiles"] = {n: p.description for n, p in self.book.profiles.items()}
        data["fault_kinds"] = list(FAULT_KINDS)
        return data

    def update(self, change: FaultUpdate) -> dict[str, Any]:
        """Apply a runtime change; :class:`InvalidOverride` for an unknown profile."""
        given = change.model_fields_set
        with self._lock:
            if "profile" in given and change.profile is not None:
                try:
                    self.state.profile = self.book.resolve(change.profile)
                except KeyError:
                    raise InvalidOverride(f"unknown profile {change.profile!r}") from None
            if "fault" in given:
                self.state.fault = change.fault
            for name in ("rate", "services", "hold_seconds", "retry_after"):
                value = getattr(change, name)
                if name in given and value is not None:
                    setattr(self.state, name, value)
            if "seed" in given and change.seed is not None:
                self.state.seed = change.seed
                self._rngs.clear()  # the same seed replays from the start
        return self.snapshot()

    def reseed(self) -> None:
        """Restart every draw sequence from the current seed."""
        with self._lock:
            self._rngs.clear()

    def _draws(self, service: str) -> tuple[float, float]:
        with self._lock:
            rng = self._rngs.get(service)
            if rng is None:
                rng = self._rngs[service] = random.Random(f"{self.state.seed}:{service}")
            return rng.random(), rng.random()

    def decide(
        self, service: str, profile_header: str | None, fault_header: str | None
    ) -> Decision:
        """The delay and fault of the next request to ``service``."""
        u, v = self._draws(service)
        state = self.state
        applies = not state.services or service in state.services
        if profile_header:
            try:
                name = self.book.resolve(profile_header.strip())
            except KeyError:
                raise InvalidOverride(
                    f"unknown latency profile {profile_header.strip()!r}; "
                    f"use one of {self.book.names()}"
                ) from None
        else:
            name = state.profile if applies else "ideal"
        profile = self.book.get(name)
        delay = sample_delay(profile, service, u)
        if fault_header:
            kind = fault_header.strip().lower()
            if kind == "none":
                return Decision(name, delay, None)
            if kind not in FAULT_KINDS:
                raise InvalidOverride(f"unknown fault {kind!r}; use one of {list(FAULT_KINDS)}")
            return Decision(name, delay, kind)
        if applies and state.fault is not None and v < state.rate:
            return Decision(name, delay, state.fault)
        if applies or profile_header:
            edge = 0.0
            for kind, rate in profile.fault_rates(service).items():
                edge += rate
                if v < edge:
                    return Decision(name, delay, kind)
        return Decision(name, delay, None)

    def record(self, exchange: Exchange) -> None:
        self.journal.append(exchange)

    def recent(self, limit: int = 50) -> list[Exchange]:
        return list(self.journal)[-limit:][::-1]

    def percentiles(self) -> list[dict[str, Any]]:
        """p50/p95/p99 (ms) per service and route over the journal."""
        groups: dict[tuple[str, str], list[float]] = {}
        for e in list(self.journal):
            groups.setdefault((e.service, f"{e.method} {e.path}"), []).append(e.ms)
        rows = []
        for (service, route), values in sorted(groups.items()):
            values.sort()
            row: dict[str, Any] = {"service": service, "route": route, "count": len(values)}
            row.update({f"p{q}": percentile(values, q / 100) for q in (50, 95, 99)})
            rows.append(row)
        return rows


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (``q`` in [0, 1])."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def now() -> float:
    return time.time()


__all__ = [
    "FAULT_HEADER",
    "PROFILE_HEADER",
    "SERVICES",
    "Decision",
    "Exchange",
    "FaultController",
    "FaultState",
    "FaultUpdate",
    "InvalidOverride",
    "percentile",
]
