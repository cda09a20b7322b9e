"""Fault injection and latency profiles for every service: the runtime state and its draws.

Precedence (as MockPass does): a request header beats the runtime state (admin API or console),
which starts from the settings, which default to no delay and no fault.

    X-Sim-Latency-Profile: typical     profile of this request (ideal, typical, evening-peak, ...)
    X-Sim-Fault: reset                 fault of this request (timeout, reset, truncated,
                                       slow_body, malformed, http_500, http_429, http_502,
                                       http_503, or none to suppress the configured one)

Then, in order: a scheduled outage of the service (503 with Retry-After until the window ends,
on the controller's ``clock``), the configured fault (share ``rate``), the error rates by status
(``errors``), the profile's own fault rates. The profile and faults apply only to the
``services`` and requests of the ``scope`` (route glob, agency, persona PIN); outages have their
own service.

Determinism: each service draws from its own ``random.Random(f"{seed}:{service}")``, two
numbers per request (delay, fault), whatever the profile; so the same seed replays the same
sequence of delays and faults for the same sequence of requests. Changing the seed through the
admin API restarts every sequence.

Replicas (``SIM06_REDIS_URL``): the state is a small JSON document in Redis (see
:class:`services.common.redis_state.RedisFaultState`) with a version counter. A change (admin API
or console) is written there with a compare-and-set on the version; every controller checks the
version at most every ``refresh_seconds`` (one ``GET``), and reloads the document when it moved.
Replicas share the *settings*, not the draw sequence: each process still draws from its own
``Random(f"{seed}:{service}")``, so N replicas at ``rate: 0.1`` each fail about 10% of their own
requests, and a seed change restarts every replica's sequences.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sim06.services.common.fault_rules import ERROR_KINDS, FaultScope, Outage, outage_remaining
from sim06.services.common.latency import FAULT_KINDS, ZERO, FaultKind, ProfileBook, sample_delay
from sim06.services.common.settings import Settings

ErrorStatus = Literal["429", "500", "502", "503"]
PROFILE_HEADER = "x-sim-latency-profile"
FAULT_HEADER = "x-sim-fault"
SERVICES = ("gateway", "registry", "identity", "procedures", "admin")
log = logging.getLogger(__name__)


class InvalidOverride(ValueError):
    """A request header names an unknown profile or fault."""


class SharedStateUnavailable(RuntimeError):
    """The shared fault state (Redis) cannot be read or written."""


class SharedFaultState(Protocol):
    """Where replicas keep one fault state (``RedisFaultState``); errors: SharedStateUnavailable."""

    def version(self) -> int:
        """The version counter (0: nothing published yet)."""
        ...

    def load(self) -> tuple[int, dict[str, Any] | None]:
        """The version and the document, read together."""
        ...

    def save(self, document: dict[str, Any], expected: int) -> int | None:
        """Publish if the version is still ``expected``: the new version, else None."""
        ...


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one request."""

    profile: str
    delay_ms: float
    fault: str | None
    retry_after: int | None = None  # an outage: seconds until its window ends


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
    errors: dict[str, float] = field(default_factory=dict)
    scope: FaultScope | None = None
    outages: list[Outage] = field(default_factory=list)
    slow_body_ms: float = 2000.0


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
    errors: dict[ErrorStatus, float] | None = Field(
        default=None, description='Error rate by status: {"503": 0.05, "500": 0.01}'
    )
    scope: FaultScope | None = None
    outages: list[Outage] | None = None
    slow_body_ms: float | None = Field(default=None, ge=0, le=600_000)

    @field_validator("services")
    @classmethod
    def _known_services(cls, value: list[str] | None) -> list[str] | None:
        # A misspelt name would otherwise select no service at all: the fault silently idle.
        unknown = [s for s in value or [] if s not in SERVICES]
        if unknown:
            raise ValueError(f"unknown service(s) {unknown}; use some of {list(SERVICES)}")
        return value

    @field_validator("errors")
    @classmethod
    def _rates(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None and (any(r < 0 for r in value.values()) or sum(value.values()) > 1):
            raise ValueError("error rates must be >= 0 and sum to <= 1")
        return value


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
    # Replicas: the shared state and how often (s) to check its version; None: this process only.
    shared: SharedFaultState | None = None
    refresh_seconds: float = 0.5
    _version: int = 0
    _reseeds: int = 0  # seed changes published so far: a new count restarts the draws
    _checked: float = -math.inf
    # quiet()'s answers per service for one state object (see there).
    _quiet: tuple[FaultState | None, dict[str, bool]] = field(
        default_factory=lambda: (None, {}), repr=False
    )
    _unreachable: bool = False
    # The wall clock of outage windows (aware datetime); tests inject one instead of sleeping.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.initial is None:
            self.initial = replace(self.state, services=list(self.state.services))

    @classmethod
    def from_settings(
        cls, settings: Settings, shared: SharedFaultState | None = None
    ) -> FaultController:
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
        return cls(state=state, book=book, shared=shared)

    def snapshot(self) -> dict[str, Any]:
        """The state, the known profiles and fault kinds (JSON-ready); replicas: the latest."""
        self.sync(force=True)
        return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        with self._lock:
            data = state_document(self.state)
        data["profiles"] = {n: p.description for n, p in self.book.profiles.items()}
        data["fault_kinds"] = list(FAULT_KINDS)
        return data

    def update(self, change: FaultUpdate) -> dict[str, Any]:
        """Apply a runtime change; :class:`InvalidOverride` for an unknown profile.

        Replicas: read the latest state, change it, publish it if nobody else published in
        between (compare-and-set on the version), else retry; :class:`SharedStateUnavailable`
        when Redis does not answer.
        """
        shared = self.shared
        if shared is None:
            with self._lock:
                self.state, reseed = self._changed(self.state, change)
                if reseed:
                    self._rngs.clear()  # the same seed replays from the start
            return self._snapshot()
        for _ in range(10):
            version, document = shared.load()
            with self._lock:
                self._adopt(version, document)
                new, reseed = self._changed(self.state, change)
                published = {**state_document(new), "reseeds": self._reseeds + int(reseed)}
            saved = shared.save(published, version)
            if saved is not None:
                with self._lock:
                    self._adopt(saved, published)
                return self._snapshot()
        raise SharedStateUnavailable("the fault state keeps changing under us; retry")

    def _changed(self, base: FaultState, change: FaultUpdate) -> tuple[FaultState, bool]:
        """``base`` with ``change`` applied, and whether the draws restart (seed given)."""
        given = change.model_fields_set
        state = replace(base, services=list(base.services))
        if "profile" in given and change.profile is not None:
            try:
                state.profile = self.book.resolve(change.profile)
            except KeyError:
                raise InvalidOverride(f"unknown profile {change.profile!r}") from None
        if "fault" in given:
            state.fault = change.fault
        if "scope" in given:
            state.scope = change.scope
        for name in ("rate", "services", "hold_seconds", "retry_after", "slow_body_ms"):
            value = getattr(change, name)
            if name in given and value is not None:
                setattr(state, name, value)
        if "errors" in given:
            state.errors = {str(k): r for k, r in (change.errors or {}).items()}
        if "outages" in given:
            state.outages = list(change.outages or [])
        reseed = "seed" in given and change.seed is not None
        if reseed:
            state.seed = int(change.seed or 0)
        return state, reseed

    def sync(self, force: bool = False) -> None:
        """Replicas: reload the shared state if its version moved (checked once per interval).

        The check is one short Redis ``GET``; if Redis does not answer, the last known state
        stays in force (logged once) until it answers again.
        """
        shared = self.shared
        if shared is None:
            return
        moment = time.monotonic()
        if not force and moment - self._checked < self.refresh_seconds:
            return
        self._checked = moment
        try:
            if shared.version() == self._version:
                self._reachable()
                return
            version, document = shared.load()
        except SharedStateUnavailable as exc:
            if not self._unreachable:
                log.warning("shared fault state unavailable, keeping the last one: %s", exc)
            self._unreachable = True
            return
        self._reachable()
        with self._lock:
            self._adopt(version, document)

    def _reachable(self) -> None:
        if self._unreachable:
            log.warning("shared fault state reachable again")
        self._unreachable = False

    def _adopt(self, version: int, document: dict[str, Any] | None) -> None:
        # Caller holds the lock. Version 0 (nothing published): keep the state from settings.
        if document is None or version == self._version:
            self._version = version
            return
        try:
            state = FaultState(
                profile=self.book.resolve(str(document["profile"])),
                fault=_fault_kind(document["fault"]),
                rate=float(document["rate"]),
                services=[str(s) for s in document["services"]],
                seed=int(document["seed"]),
                hold_seconds=float(document["hold_seconds"]),
                retry_after=int(document["retry_after"]),
                errors={str(k): float(v) for k, v in (document.get("errors") or {}).items()},
                scope=FaultScope.model_validate(scope)
                if (scope := document.get("scope"))
                else None,
                outages=[Outage.model_validate(o) for o in document.get("outages") or []],
                slow_body_ms=float(document.get("slow_body_ms", 2000.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            # Another replica knows a profile this one does not (different profile files).
            log.warning("ignoring shared fault state version %s: %r", version, exc)
            self._version = version
            return
        reseeds = int(document.get("reseeds", 0))
        if reseeds != self._reseeds:
            self._rngs.clear()
        self.state, self._version, self._reseeds = state, version, reseeds

    def reseed(self) -> None:
        """Restart this process's draw sequences (a published seed change restarts them all)."""
        with self._lock:
            self._rngs.clear()

    def _draws(self, service: str) -> tuple[float, float]:
        with self._lock:
            rng = self._rngs.get(service)
            if rng is None:
                rng = self._rngs[service] = random.Random(f"{self.state.seed}:{service}")
            return rng.random(), rng.random()

    def decide(
        self,
        service: str,
        profile_header: str | None,
        fault_header: str | None,
        path: str = "",
        client: str | None = None,
    ) -> Decision:
        """The delay and fault of the next request to ``service`` (``client``: X-Road-Client)."""
        self.sync()
        u, v = self._draws(service)
        state = self.state
        applies = (not state.services or service in state.services) and (
            state.scope is None or state.scope.matches(path, client)
        )
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
        if state.outages:
            left = outage_remaining(state.outages, service, self.clock())
            if left is not None:
                return Decision(name, delay, "http_503", retry_after=max(1, math.ceil(left)))
        edge = 0.0
        if applies and state.fault is not None:
            if v < state.rate:
                return Decision(name, delay, state.fault)
            edge = state.rate
        if applies:
            for status, rate in state.errors.items():
                edge += rate
                if v < edge:
                    return Decision(name, delay, ERROR_KINDS[status])
        if applies or profile_header:
            for kind, rate in profile.fault_rates(service).items():
                edge += rate
                if v < edge:
                    return Decision(name, delay, kind)
        return Decision(name, delay, None)

    def quiet(self, service: str) -> bool:
        """Whether :meth:`decide` would pass every request to ``service`` untouched now (no
        delay, no fault) whatever its path or client: a hot path may then skip it. Conservative:
        a profile that names ``service`` at all, or any fault, error rate or outage, is not quiet.
        """
        self.sync()
        state = self.state
        # Every change replaces the state object: the answer holds as long as it is the same.
        known = self._quiet
        if known[0] is not state:
            known = self._quiet = (state, {})
        answer = known[1].get(service)
        if answer is None:
            answer = known[1][service] = self._quiet_now(state, service)
        return answer

    def _quiet_now(self, state: FaultState, service: str) -> bool:
        if state.fault is not None or state.outages or any(state.errors.values()):
            return False
        profile = self.book.get(state.profile)
        return profile.hop(service) is ZERO and not profile.fault_rates(service)

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


def _fault_kind(value: Any) -> str | None:
    if value is None or value in FAULT_KINDS:
        return None if value is None else str(value)
    raise ValueError(f"unknown fault {value!r}")


def state_document(state: FaultState) -> dict[str, Any]:
    """The state as JSON-ready data (the admin API's view and the Redis document)."""
    data = asdict(state)
    data["scope"] = state.scope.model_dump() if state.scope is not None else None
    data["outages"] = [o.model_dump() for o in state.outages]
    return data


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
    "SharedFaultState",
    "SharedStateUnavailable",
    "percentile",
]
