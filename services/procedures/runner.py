"""Run a procedure as its demo agency would: the citizen logs in with VNeID, the agency looks
people up through the data-sharing gateway, the decision rules decide.

The runner talks HTTP to the identity provider and the gateway (two ``httpx.AsyncClient``: live
base URLs, or ``httpx.ASGITransport`` in process). Stages run in sequence, the steps of a stage
concurrently; each step's latency is the wall time of its requests.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from mock_registry.ids import is_valid_pin
from mock_registry.personas import BY_KEY
from services.gateway.agencies import AgencySpec
from services.procedures.model import Procedure, Step
from services.procedures.rules import Facts, fired, resolve

REDIRECT_URI = "http://127.0.0.1/sim06-procedures/callback"
_request_ids = itertools.count(1)


class RunError(ValueError):
    """The run request is invalid (unknown persona, role or parameter)."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field_name = field_name
        self.reason = reason


def persona_pin(key_or_pin: str) -> str:
    """The PIN of a persona key (listed or not), or a PIN itself."""
    persona = BY_KEY.get(key_or_pin)
    if persona is not None:
        return persona.pin
    if is_valid_pin(key_or_pin):
        return key_or_pin
    raise RunError("persona", f"{key_or_pin!r} is neither a persona key nor a valid PIN")


@dataclass
class StepResult:
    """What one step did."""

    id: str
    kind: str
    stage: int
    pin: str | None
    status: str  # ok | not_found | refused | skipped | error
    ms: float = 0.0
    requests: int = 0
    http_status: int | None = None
    detail: str = ""


@dataclass
class RunResult:
    """One run of a procedure: steps, documents, fired rules and the decision."""

    procedure: str
    code: str
    persona: str
    roles: dict[str, str | None]
    params: dict[str, str]
    profile: str | None
    steps: list[StepResult]
    stage_ms: list[float]
    decision: str  # approved | rejected | referred | error
    rules: list[dict[str, str]]
    documents: list[dict[str, Any]]
    total_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Runner:
    """Runs procedures against an identity provider and a gateway."""

    gateway: httpx.AsyncClient
    identity: httpx.AsyncClient
    agencies: dict[str, AgencySpec]
    as_of: date
    _tokens: dict[str, str] = field(default_factory=dict)
    _rp: tuple[str, str] | None = None

    async def run(
        self,
        procedure: Procedure,
        persona: str,
        roles: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        profile: str | None = None,
    ) -> RunResult:
        """Run ``procedure`` for ``persona`` (its applicant) with optional role bindings."""
        bound = {procedure.applicant_role: persona_pin(persona)}
        for role, who in (roles or {}).items():
            if role not in procedure.roles:
                raise RunError("roles", f"{procedure.key} has no role {role!r}")
            bound[role] = persona_pin(who)
        values = {"date": self.as_of.isoformat()}
        values.update({name: p.default for name, p in procedure.params.items()})
        for name, value in (params or {}).items():
            if name not in procedure.params and name != "date":
                raise RunError("params", f"{procedure.key} has no parameter {name!r}")
            values[name] = value
        try:
            date.fromisoformat(values["date"])
        except ValueError:
            raise RunError("params", "date must be YYYY-MM-DD") from None
        facts: Facts = {"params": {k: (v or None) for k, v in values.items()}, "roles": bound}
        headers = {"X-Sim-Latency-Profile": profile} if profile else {}
        results: list[StepResult] = []
        stage_ms: list[float] = []
        stopped = False
        for index, stage in enumerate(procedure.stages):
            started = time.perf_counter()
            if stopped:
                done = [StepResult(s.id, s.kind, index, None, "skipped",
                                   detail="an earlier step failed") for s in stage]  # fmt: skip
            else:
                done = list(await asyncio.gather(
                    *(self._step(procedure, s, index, facts, bound, headers) for s in stage)
                ))  # fmt: skip
            stage_ms.append((time.perf_counter() - started) * 1000)
            results.extend(done)
            # A refused login or a failed call ends the online procedure: nothing later runs.
            stopped = stopped or any(r.status in ("refused", "error") for r in done)
        failed = {r.id for r in results if r.status in ("refused", "error")}
        hits = fired(procedure.rules, facts, failed)
        if any(r.status == "error" for r in results):
            decision = "error"
        elif any(r.outcome == "reject" for r in hits):
            decision = "rejected"
        elif hits:
            decision = "referred"
        else:
            decision = "approved"
        status_of = {r.id: r.status for r in results}
        documents = [
            {"id": d.id, "name_vi": d.name_vi, "name_en": d.name_en, "status": d.status,
             "step": d.replaced_by.step if d.replaced_by else None,
             "step_status": status_of.get(d.replaced_by.step) if d.replaced_by else None}
            for d in procedure.documents
        ]  # fmt: skip
        derived = {r: bound.get(r) or _derived(procedure, r, facts) for r in procedure.roles}
        return RunResult(
            procedure=procedure.key, code=procedure.code, persona=persona, roles=derived,
            params=values, profile=profile, steps=results, stage_ms=stage_ms, decision=decision,
            rules=[{"id": r.id, "outcome": r.outcome, "reason_en": r.reason_en,
                    "reason_vi": r.reason_vi} for r in hits],
            documents=documents, total_ms=sum(stage_ms),
        )  # fmt: skip

    async def _step(
        self, procedure: Procedure, step: Step, stage: int, facts: Facts,
        bound: dict[str, str], headers: dict[str, str],
    ) -> StepResult:  # fmt: skip
        if step.role is not None:
            pin = bound.get(step.role) or _derived(procedure, step.role, facts)
        else:
            pin = resolve(facts, step.pin_from or "")
        result = StepResult(step.id, step.kind, stage, pin if isinstance(pin, str) else None, "ok")
        if result.pin is None:
            result.status, result.detail = "skipped", "no person for this step"
            return result
        started = time.perf_counter()
        try:
            if step.kind == "vneid-login":
                data = await self._login(result, step, headers)
            else:
                data = await self._exchange(procedure, step, result, facts, headers)
        except httpx.HTTPError as exc:
            result.status, result.detail = "error", f"{type(exc).__name__}: {exc}"[:300]
            data = None
        result.ms = (time.perf_counter() - started) * 1000
        facts[step.id] = data
        return result

    async def _exchange(
        self, procedure: Procedure, step: Step, result: StepResult, facts: Facts,
        headers: dict[str, str],
    ) -> dict[str, Any] | None:  # fmt: skip
        agency = self.agencies[procedure.agency.client_id]
        token = await self._agency_token(agency, headers)
        result.requests += 1
        pin = result.pin
        assert pin is not None
        send = {
            **headers,
            "Authorization": f"Bearer {token}",
            "X-Road-Client": agency.code,
            "X-MaYeuCau": f"sim06-proc-{secrets.token_hex(6)}-{next(_request_ids)}",
            "X-MaDVC": procedure.code,
            "X-MaCanBo": procedure.agency.officer,
            "X-Purpose": procedure.agency.purpose,
            "X-Legal-Basis": procedure.agency.legal_basis,
        }
        base = f"/v1/registry/citizens/{pin}"
        if step.kind == "verify":
            body = {"pin": pin}
            for name, paths in step.declared.items():
                value = next((v for p in paths.split("|") if (v := resolve(facts, p))), None)
                if value is not None:
                    body[name] = value
            r = await self.gateway.post("/v1/registry/citizens/verify", json=body, headers=send)
        else:
            path = base if step.kind == "lookup" else f"{base}/{step.kind}"
            query = {"fields": ",".join(step.fields)} if step.fields else None
            r = await self.gateway.get(path, params=query, headers=send)
        result.http_status = r.status_code
        if r.status_code == 200:
            data: dict[str, Any] = r.json()
            return data
        problem = _problem_code(r)
        if r.status_code == 404 and problem in ("CITIZEN_NOT_FOUND", "NO_HOUSEHOLD"):
            result.status, result.detail = "not_found", problem
        else:
            result.status, result.detail = "error", f"{r.status_code} {problem}"
        return None

    async def _agency_token(self, agency: AgencySpec, headers: dict[str, str]) -> str:
        cached = self._tokens.get(agency.client_id)
        if cached is not None:
            return cached
        r = await self.gateway.post(
            "/oauth/token", data={"grant_type": "client_credentials"},
            auth=(agency.client_id, agency.client_secret or ""), headers=headers,
        )  # fmt: skip
        if r.status_code != 200:
            raise httpx.HTTPStatusError(
                f"token for {agency.client_id}: {r.status_code} {r.text[:200]}",
                request=r.request, response=r,
            )  # fmt: skip
        token: str = r.json()["access_token"]
        self._tokens[agency.client_id] = token
        return token

    async def _relying_party(self, headers: dict[str, str]) -> tuple[str, str]:
        if self._rp is None:
            r = await self.identity.post(
                "/register", headers=headers,
                json={"client_name": "sim06 procedure runner", "redirect_uris": [REDIRECT_URI],
                      "token_endpoint_auth_method": "client_secret_basic"},
            )  # fmt: skip
            if r.status_code != 201:
                raise httpx.HTTPStatusError(
                    f"client registration: {r.status_code}", request=r.request, response=r
                )
            meta = r.json()
            self._rp = (meta["client_id"], meta["client_secret"])
        return self._rp

    async def _login(
        self, result: StepResult, step: Step, headers: dict[str, str]
    ) -> dict[str, Any] | None:
        """Authorization code + PKCE with auto-login, token, userinfo (OIDC Core §3.1)."""
        client_id, secret = await self._relying_party(headers)
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        state = secrets.token_urlsafe(12)
        r = await self.identity.get(
            "/authorize",
            params={"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
                    "scope": "openid profile", "state": state, "login_hint": result.pin or "",
                    "acr_values": f"LoA{step.level}",
                    "code_challenge": challenge.rstrip(b"=").decode(),
                    "code_challenge_method": "S256"},
            headers={**headers, "X-Sim-Auto-Login": "true"},
        )  # fmt: skip
        result.requests += 1
        result.http_status = r.status_code
        if r.status_code not in (302, 303):
            result.status, result.detail = "error", f"/authorize answered {r.status_code}"
            return None
        query = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
        if "code" not in query:
            result.status = "refused"
            result.detail = f"{query.get('error')}: {query.get('error_description', '')}"
            return None
        r = await self.identity.post(
            "/token", auth=(client_id, secret), headers=headers,
            data={"grant_type": "authorization_code", "code": query["code"],
                  "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
        )  # fmt: skip
        result.requests += 1
        result.http_status = r.status_code
        if r.status_code != 200:
            result.status, result.detail = "error", f"/token answered {r.status_code}"
            return None
        access = r.json()["access_token"]
        r = await self.identity.get(
            "/userinfo", headers={**headers, "Authorization": f"Bearer {access}"}
        )
        result.requests += 1
        result.http_status = r.status_code
        if r.status_code != 200:
            result.status, result.detail = "error", f"/userinfo answered {r.status_code}"
            return None
        claims: dict[str, Any] = r.json()
        return claims


def _derived(procedure: Procedure, role: str, facts: Facts) -> str | None:
    path = procedure.roles[role].derived_from
    value = resolve(facts, path) if path else None
    return value if isinstance(value, str) else None


def _problem_code(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return "non-JSON answer"
    return str(body.get("code", "")) if isinstance(body, dict) else ""


__all__ = ["REDIRECT_URI", "RunError", "RunResult", "Runner", "StepResult", "persona_pin"]
