"""Expectations: "for PIN X, force outcome Y" (WireMock-like stubs that know the domain).

``PUT /__sim06/expectations`` adds one::

    {"pin": "001090104217", "operation": "citizens-get", "times": 1,
     "outcome": {"status": 503, "code": "NOT_READY"}}

Outcomes, each answered as the contract allows:

    {"status": S, "code": C}       an RFC 9457 problem with catalogue code C (status from the
                                   catalogue; give either, or both if they agree)
    {"verdict": "mismatch"}        citizens-verify: match | mismatch | not_found, the real answer
                                   rewritten within its schema; chip-verify: invalid, a data
                                   group altered on the way in so passive authentication fails
                                   for real and the verdict is signed as usual
    {"fault": "timeout"}           timeout | reset | truncated | http_503, as the fault injector
    {"oauth_error": "access_denied"}  oidc-authorize: the redirect carries this error instead of
                                   the code (the code issued is consumed: it can never be used)

``pin`` is a 12-digit PIN or a persona key. ``times`` limits how often it applies (default:
always). ``operation`` is an operation id of the service (``*``: any with that PIN).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim06.mock_registry.personas import BY_KEY
from sim06.services.common.latency import FaultKind
from sim06.services.common.problems import catalogue

__all__ = ["OPERATIONS", "Expectation", "ExpectationIn", "ExpectationStore", "Operation", "Outcome"]

OAuthErrorCode = Literal[
    "access_denied", "login_required", "interaction_required", "consent_required",
    "unmet_authentication_requirements", "temporarily_unavailable", "server_error",
]  # fmt: skip
PinSource = Literal["path", "body", "login_hint"]


@dataclass(frozen=True, slots=True)
class Operation:
    """A contract operation an expectation can target, and where its PIN is."""

    id: str
    methods: frozenset[str]
    path: re.Pattern[str]
    pin: PinSource
    verdicts: frozenset[str] = frozenset()
    body_field: str = "pin"


def _op(op_id: str, method: str, path: str, pin: PinSource = "path", **kw: Any) -> Operation:
    return Operation(op_id, frozenset(method.split("|")), re.compile(path), pin, **kw)


_P = r"([0-9]{12})"
OPERATIONS: tuple[Operation, ...] = (
    # registry (CSDLQG về dân cư)
    _op("citizens-get", "GET", rf"^/v1/citizens/{_P}$"),
    _op("citizens-verify", "POST", r"^/v1/citizens/verify$", "body",
        verdicts=frozenset({"match", "mismatch", "not_found"})),
    _op("citizens-household", "GET", rf"^/v1/citizens/{_P}/household$"),
    _op("citizens-residence-confirmation", "GET", rf"^/v1/citizens/{_P}/residence-confirmation$"),
    # gateway (NDXP/LGSP): its answers are signed, so no verdict rewriting there
    _op("registry-lookup", "GET", rf"^/v1/registry/citizens/{_P}$"),
    _op("registry-verify", "POST", r"^/v1/registry/citizens/verify$", "body"),
    _op("registry-household", "GET", rf"^/v1/registry/citizens/{_P}/household$"),
    _op("registry-residence-confirmation", "GET",
        rf"^/v1/registry/citizens/{_P}/residence-confirmation$"),
    _op("citizens-access-log", "GET", rf"^/v1/citizens/{_P}/access-log$"),
    # identity (VNeID) and chip cards
    _op("oidc-authorize", "GET|POST", r"^/authorize$", "login_hint"),
    _op("chip-read", "GET", rf"^/v1/cards/{_P}/chip$"),
    _op("chip-verify", "POST", r"^/v1/chip/verify$", "body",
        verdicts=frozenset({"invalid"}), body_field="idNumber"),
    _op("chip-qr", "GET", rf"^/v1/cards/{_P}/qr$"),
)  # fmt: skip
BY_ID = {op.id: op for op in OPERATIONS}


class Outcome(BaseModel):
    """What a matching request gets: exactly one kind (error, verdict, fault or OAuth error)."""

    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(default=None, ge=400, le=599)
    code: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=500)
    verdict: Literal["match", "mismatch", "not_found", "invalid"] | None = None
    fault: FaultKind | None = None
    oauth_error: OAuthErrorCode | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Outcome:
        kinds = [
            k
            for k, given in (
                ("error", self.status is not None or self.code is not None),
                ("verdict", self.verdict is not None),
                ("fault", self.fault is not None),
                ("oauth_error", self.oauth_error is not None),
            )
            if given
        ]
        if len(kinds) != 1:
            raise ValueError("give exactly one of status/code, verdict, fault, oauth_error")
        if kinds[0] == "error":
            self.code, self.status = _error_code(self.code, self.status)
        return self

    @property
    def kind(self) -> str:
        if self.code is not None:
            return "error"
        if self.verdict is not None:
            return "verdict"
        return "fault" if self.fault is not None else "oauth_error"


def _error_code(code: str | None, status: int | None) -> tuple[str, int]:
    errors = catalogue()
    if code is not None:
        spec = errors.get(code)
        if spec is None:
            raise ValueError(f"code {code!r} is not in contracts/errors.yaml")
        if status is not None and status != spec.status:
            raise ValueError(f"code {code} has status {spec.status} in the catalogue, not {status}")
        return code, spec.status
    for spec in errors.values():
        if spec.status == status:
            return spec.code, spec.status
    raise ValueError(f"no catalogue code has status {status}")


class ExpectationIn(BaseModel):
    """Body of ``PUT /__sim06/expectations``."""

    model_config = ConfigDict(extra="forbid")

    pin: str = Field(min_length=1, max_length=64, description="12-digit PIN or a persona key.")
    operation: str = Field(default="*", description="An operation id, or * for any.")
    outcome: Outcome
    times: int | None = Field(default=None, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _consistent(self) -> ExpectationIn:
        if not re.fullmatch(r"[0-9]{12}", self.pin):
            persona = BY_KEY.get(self.pin)
            if persona is None:
                raise ValueError(f"pin {self.pin!r} is neither 12 digits nor a persona key")
            self.pin = persona.pin
        if self.operation != "*" and self.operation not in BY_ID:
            raise ValueError(f"unknown operation {self.operation!r}; use one of {sorted(BY_ID)}")
        kind = self.outcome.kind
        if kind == "verdict":
            op = BY_ID.get(self.operation)
            if op is None or self.outcome.verdict not in op.verdicts:
                allowed = {o.id: sorted(o.verdicts) for o in OPERATIONS if o.verdicts}
                raise ValueError(f"verdicts apply to these operations only: {allowed}")
        if kind == "oauth_error" and self.operation != "oidc-authorize":
            raise ValueError("oauth_error applies to operation oidc-authorize only")
        return self


@dataclass(slots=True)
class Expectation:
    """A stored expectation and how often it matched."""

    id: int
    pin: str
    operation: str
    outcome: Outcome
    times: int | None
    hits: int = 0

    def document(self) -> dict[str, Any]:
        remaining = None if self.times is None else max(0, self.times - self.hits)
        return {
            "id": self.id, "pin": self.pin, "operation": self.operation,
            "outcome": self.outcome.model_dump(exclude_none=True), "times": self.times,
            "hits": self.hits, "remaining": remaining,
        }  # fmt: skip


@dataclass
class ExpectationStore:
    """The expectations of one service; empty means the middleware does nothing at all."""

    items: list[Expectation] = field(default_factory=list)
    _next: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, spec: ExpectationIn) -> Expectation:
        with self._lock:
            item = Expectation(self._next, spec.pin, spec.operation, spec.outcome, spec.times)
            self._next += 1
            self.items.append(item)
            return item

    def clear(self) -> int:
        with self._lock:
            count = len(self.items)
            self.items = []
            return count

    def wants(self, op: str) -> bool:
        """Whether any live expectation could match ``op`` (before reading a body)."""
        return any(
            e.operation in (op, "*") and (e.times is None or e.hits < e.times) for e in self.items
        )

    def take(self, op: str, pin: str) -> Expectation | None:
        """The first live expectation for ``op`` and ``pin``, counted as a hit."""
        with self._lock:
            for e in self.items:
                if e.pin == pin and e.operation in (op, "*"):
                    if e.times is not None and e.hits >= e.times:
                        continue
                    if e.operation == "*" and e.outcome.kind in ("verdict", "oauth_error"):
                        continue
                    e.hits += 1
                    return e
        return None

    def snapshot(self) -> Any:
        with self._lock:
            rows = [(e.id, e.pin, e.operation, e.outcome, e.times, e.hits) for e in self.items]
            return rows, self._next

    def restore(self, token: Any) -> None:
        rows, nxt = token
        with self._lock:
            self.items = [Expectation(*row) for row in rows]
            self._next = nxt


def match_operation(method: str, path: str) -> tuple[Operation, str | None] | None:
    """The operation of a request and the PIN in its path (None when it is elsewhere)."""
    for op in OPERATIONS:
        if method in op.methods:
            found = op.path.match(path)
            if found is not None:
                return op, (found.group(1) if op.pin == "path" else None)
    return None


def resolve_pin(value: str) -> str:
    """A PIN, or the PIN of a persona key (``login_hint`` may be either)."""
    persona = BY_KEY.get(value)
    return persona.pin if persona is not None else value
