"""Run a procedure as its demo agencies would: the citizen logs in with VNeID, the agency looks
people up through the data-sharing gateway, the decision rules decide, and, when they let the
dossier through, the agency registers it (a civil-status write) and the linked agencies follow.

The runner talks HTTP to the identity provider and the gateway (two ``httpx.AsyncClient``: live
base URLs, or ``httpx.ASGITransport`` in process). Stages run in sequence, the steps of a stage
concurrently; each step's latency is the wall time of its requests.

Each step runs as the agency that owns it (:meth:`Procedure.agency_of`): its own access token,
agency code (X-Road-Client), procedure code (X-MaDVC), officer (X-MaCanBo) and purpose. Reads
send a fresh X-MaYeuCau each; a write sends ``<run id>-<step id>``, which the gateway uses as
the idempotency key: a run repeated with the same run id (``request_id_prefix``) gets the first
answers back (``Idempotent-Replayed: true``) instead of registering twice.

A ``feed`` step is a small consumer of the change feed: the agency reads
``/v1/registry/changes`` from its saved cursor (kept by the runner, per agency, in memory; a new
runner starts from the beginning of the feed) until it finds the item it waits for. An ``issue``
step is the agency's own system issuing a document: its number is a MOCK made from the facts.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

from sim06.mock_registry.ids import is_valid_pin
from sim06.mock_registry.personas import BY_KEY
from sim06.services.common.tracing import span
from sim06.services.gateway.agencies import AgencySpec
from sim06.services.gateway.policy import WRITE_OPERATIONS
from sim06.services.procedures.model import Procedure, Step
from sim06.services.procedures.rules import Facts, fired, resolve
from sim06.services.procedures.templates import TemplateError, generate, render, today_in_vietnam

REDIRECT_URI = "http://127.0.0.1/sim06-procedures/callback"
RUN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
FEED_PAGES = 200  # pages one feed step reads at most before it gives up
FEED_MEMORY = 10_000  # items a feed consumer remembers having processed
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
    agency: str | None = None  # client id of the agency that ran it (None: the citizen)
    data: dict[str, Any] = field(default_factory=dict)  # writes, feed reads, issued documents


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
    run_id: str = ""
    hops: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    papers: dict[str, int] = field(default_factory=dict)
    closed: bool = False  # approved, and every write, feed read and issue succeeded

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FeedConsumer:
    """An agency reading the change feed: its saved cursor and the items it processed."""

    cursor: str = "0"
    seen: OrderedDict[tuple[str, str], dict[str, Any]] = field(default_factory=OrderedDict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def remember(self, item: dict[str, Any]) -> None:
        self.seen[(item["type"], item["pin"])] = item
        while len(self.seen) > FEED_MEMORY:
            self.seen.popitem(last=False)


@dataclass
class Runner:
    """Runs procedures against an identity provider and a gateway."""

    gateway: httpx.AsyncClient
    identity: httpx.AsyncClient
    agencies: dict[str, AgencySpec]
    as_of: date
    today: Callable[[], date] = today_in_vietnam
    _tokens: dict[str, str] = field(default_factory=dict)
    _rp: tuple[str, str] | None = None
    feeds: dict[str, FeedConsumer] = field(default_factory=dict)

    async def run(
        self,
        procedure: Procedure,
        persona: str,
        roles: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        profile: str | None = None,
        request_id_prefix: str | None = None,
    ) -> RunResult:
        """Run ``procedure`` for ``persona`` (its applicant) with optional role bindings.

        ``request_id_prefix`` is the run id (default: a random one): the writes' X-MaYeuCau and
        the generated names derive from it, so a repeated run replays its writes."""
        # With tracing on, the run is one span and each step a child span (its HTTP calls
        # under it, continued by the gateway and identity provider through traceparent).
        with span("procedures", f"procedure {procedure.key}", {"sim06.procedure": procedure.key}):
            return await self._run(procedure, persona, roles, params, profile, request_id_prefix)

    async def _run(
        self,
        procedure: Procedure,
        persona: str,
        roles: dict[str, str] | None,
        params: dict[str, str] | None,
        profile: str | None,
        request_id_prefix: str | None,
    ) -> RunResult:
        bound = {procedure.applicant_role: persona_pin(persona)}
        for role, who in (roles or {}).items():
            if role not in procedure.roles:
                raise RunError("roles", f"{procedure.key} has no role {role!r}")
            bound[role] = persona_pin(who)
        run_id = request_id_prefix or f"sim06-run-{secrets.token_hex(4)}"
        if not RUN_ID.fullmatch(run_id):
            raise RunError("request_id_prefix", "1 to 64 of A-Z a-z 0-9 . _ : -")
        today = self.today()
        values = {"date": self.as_of.isoformat()}
        values.update({name: p.default for name, p in procedure.params.items()})
        for name, value in (params or {}).items():
            if name not in procedure.params and name != "date":
                raise RunError("params", f"{procedure.key} has no parameter {name!r}")
            values[name] = value
        for name, p in procedure.params.items():
            if p.generated is not None and not values[name]:
                values[name] = generate(p, run_id, today, name)
        try:
            date.fromisoformat(values["date"])
        except ValueError:
            raise RunError("params", "date must be YYYY-MM-DD") from None
        tag = re.sub(r"[^A-Za-z0-9]", "", run_id)[-8:].upper() or "RUN"
        facts: Facts = {
            "params": {k: (v or None) for k, v in values.items()},
            "roles": bound,
            "run": {"id": run_id, "tag": tag, "today": today.isoformat(),
                    "year": str(today.year)},
        }  # fmt: skip
        headers = {"X-Sim-Latency-Profile": profile} if profile else {}
        results: list[StepResult] = []
        stage_ms: list[float] = []
        stopped, held = False, False
        commit = procedure.commit_stage()
        for index, stage in enumerate(procedure.stages):
            if index == commit and not stopped:
                # Nothing is registered for a dossier the decision rules reject or refer.
                held = bool(fired(procedure.rules, facts, _failed(results)))
            facts["pins"] = {r: bound.get(r) or _derived(procedure, r, facts)
                             for r in procedure.roles}  # fmt: skip
            started = time.perf_counter()
            if stopped or held:
                why = "an earlier step failed" if stopped else "not registered: the rules decided"
                done = [StepResult(s.id, s.kind, index, None, "skipped", detail=why,
                                   agency=_client(procedure, s)) for s in stage]  # fmt: skip
            else:
                done = list(await asyncio.gather(
                    *(self._step(procedure, s, index, facts, bound, headers) for s in stage)
                ))  # fmt: skip
            stage_ms.append((time.perf_counter() - started) * 1000)
            results.extend(done)
            # A refused login or a failed call ends the online procedure: nothing later runs.
            stopped = stopped or any(r.status in ("refused", "error") for r in done)
        hits = fired(procedure.rules, facts, _failed(results))
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
        linked = [r for r in results if r.kind in ("write", "feed", "issue")]
        return RunResult(
            procedure=procedure.key, code=procedure.code, persona=persona, roles=derived,
            params=values, profile=profile, steps=results, stage_ms=stage_ms, decision=decision,
            rules=[{"id": r.id, "outcome": r.outcome, "reason_en": r.reason_en,
                    "reason_vi": r.reason_vi} for r in hits],
            documents=documents, total_ms=sum(stage_ms), run_id=run_id,
            hops=self._hops(procedure, results),
            outputs={r.id: r.data for r in results if r.kind in ("write", "issue") and r.data},
            papers={"before": len(procedure.documents),
                    "eliminated": sum(d.status == "replaced" for d in procedure.documents)},
            closed=decision == "approved" and all(r.status == "ok" for r in linked),
        )  # fmt: skip

    def _hops(self, procedure: Procedure, results: list[StepResult]) -> list[dict[str, Any]]:
        """Each agency's part of the run (the citizen's login first): steps, time, outcome."""
        hops: dict[tuple[str, str], dict[str, Any]] = {}
        for step, result in zip(procedure.steps(), results, strict=True):
            if step.kind == "vneid-login":
                key = ("vneid", "")
                entry = hops.setdefault(key, {
                    "hop": "citizen", "client_id": None, "agency_code": None,
                    "agency": "VNeID (identity provider)", "procedure": None, "purpose": None,
                    "officer": None, "role": "The citizen logs in with VNeID.",
                })  # fmt: skip
            else:
                owner = procedure.agency_of(step)
                spec = self.agencies.get(owner.client_id)
                key = (owner.client_id, procedure.code_of(step))
                entry = hops.setdefault(key, {
                    "hop": step.agency or "lead", "client_id": owner.client_id,
                    "agency_code": spec.code if spec else None,
                    "agency": spec.name if spec else owner.client_id,
                    "procedure": key[1], "purpose": owner.purpose, "officer": owner.officer,
                    "role": owner.role_en,
                })  # fmt: skip
            entry.setdefault("steps", []).append(step.id)
            entry["ms"] = entry.get("ms", 0.0) + result.ms
            entry["requests"] = entry.get("requests", 0) + result.requests
            entry.setdefault("statuses", []).append(result.status)
        out = []
        for entry in hops.values():
            statuses = entry.pop("statuses")
            entry["outcome"] = next(
                (s for s in ("error", "refused", "not_found") if s in statuses),
                "skipped" if all(s == "skipped" for s in statuses) else "ok",
            )
            out.append(entry)
        return out

    async def _step(
        self, procedure: Procedure, step: Step, stage: int, facts: Facts,
        bound: dict[str, str], headers: dict[str, str],
    ) -> StepResult:  # fmt: skip
        attributes = {"sim06.step": step.id, "sim06.step.kind": step.kind, "sim06.stage": stage,
                      "sim06.agency": _client(procedure, step) or ""}  # fmt: skip
        with span("procedures", f"step {step.id}", attributes):
            return await self._run_step(procedure, step, stage, facts, bound, headers)

    async def _run_step(
        self, procedure: Procedure, step: Step, stage: int, facts: Facts,
        bound: dict[str, str], headers: dict[str, str],
    ) -> StepResult:  # fmt: skip
        if step.role is not None:
            pin = bound.get(step.role) or _derived(procedure, step.role, facts)
        elif step.pin_from is not None:
            pin = resolve(facts, step.pin_from)
        else:
            pin = None
        result = StepResult(step.id, step.kind, stage, pin if isinstance(pin, str) else None, "ok",
                            agency=_client(procedure, step))  # fmt: skip
        if result.pin is None and step.kind != "write":
            result.status, result.detail = "skipped", "no person for this step"
            return result
        started = time.perf_counter()
        try:
            if step.kind == "vneid-login":
                data = await self._login(result, step, headers)
            elif step.kind == "write":
                data = await self._write(procedure, step, result, facts, headers)
            elif step.kind == "feed":
                data = await self._feed(procedure, step, result, headers)
            elif step.kind == "issue":
                data = self._issue(step, result, facts)
            else:
                data = await self._exchange(procedure, step, result, facts, headers)
        except httpx.HTTPError as exc:
            result.status, result.detail = "error", f"{type(exc).__name__}: {exc}"[:300]
            data = None
        if data is not None and step.expect:
            _check(step, result, data, facts)
        result.ms = (time.perf_counter() - started) * 1000
        facts[step.id] = data
        return result

    async def _headers(
        self, procedure: Procedure, step: Step, headers: dict[str, str], request_id: str | None
    ) -> dict[str, str]:
        """The X-Road-style headers of ``step``'s call, as the agency that owns it."""
        owner = procedure.agency_of(step)
        agency = self.agencies[owner.client_id]
        token = await self._agency_token(agency, headers)
        return {
            **headers,
            "Authorization": f"Bearer {token}",
            "X-Road-Client": agency.code,
            "X-MaYeuCau": request_id or f"sim06-proc-{secrets.token_hex(6)}-{next(_request_ids)}",
            "X-MaDVC": procedure.code_of(step),
            "X-MaCanBo": owner.officer,
            "X-Purpose": owner.purpose,
            "X-Legal-Basis": owner.legal_basis,
        }

    async def _exchange(
        self, procedure: Procedure, step: Step, result: StepResult, facts: Facts,
        headers: dict[str, str],
    ) -> dict[str, Any] | None:  # fmt: skip
        send = await self._headers(procedure, step, headers, None)
        result.requests += 1
        pin = result.pin
        assert pin is not None
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

    async def _write(
        self, procedure: Procedure, step: Step, result: StepResult, facts: Facts,
        headers: dict[str, str],
    ) -> dict[str, Any] | None:  # fmt: skip
        """A civil-status event through the gateway; X-MaYeuCau is its idempotency key."""
        assert step.operation is not None
        try:
            body = render(step.body, facts)
        except TemplateError as exc:
            result.status, result.detail = "error", f"body: no value for {{{exc}}}"
            return None
        request_id = f"{facts['run']['id']}-{step.id}"
        send = await self._headers(procedure, step, headers, request_id)
        result.requests += 1
        r = await self.gateway.post(
            f"/v1/registry/{WRITE_OPERATIONS[step.operation]}", json=body, headers=send
        )
        result.http_status = r.status_code
        result.data = {"operation": step.operation, "request_id": request_id}
        if r.status_code in (200, 201):
            data: dict[str, Any] = r.json()
            replayed = r.headers.get("idempotent-replayed") == "true"
            result.data.update(
                {k: v for k, v in data.items() if k != "records" and not isinstance(v, dict)}
            )
            result.data["replayed"] = replayed
            if isinstance(data.get("pin"), str):
                result.pin = data["pin"]
            result.detail = (
                f"{'replayed' if replayed else 'registered'} {data.get('type')} "
                f"event {data.get('event_id')} at cursor {data.get('cursor')}"
            )
            return data
        problem = _problem(r)
        code = str(problem.get("code", ""))
        result.data["problem"] = code
        # The population database refused the event (its own rules): the dossier is refused.
        # Anything else (the gateway refused the agency, a timeout) is a failure of the run.
        by_registry = problem.get("source") == "registry" and 400 <= r.status_code < 500
        result.status = "refused" if by_registry else "error"
        result.detail = f"{r.status_code} {code}: {problem.get('detail', '')}"[:300]
        return None

    async def _feed(
        self, procedure: Procedure, step: Step, result: StepResult, headers: dict[str, str]
    ) -> dict[str, Any] | None:
        """Read the change feed as the step's agency until the awaited item shows up."""
        owner = procedure.agency_of(step)
        consumer = self.feeds.setdefault(owner.client_id, FeedConsumer())
        assert step.event is not None and result.pin is not None
        want = (step.event, result.pin)
        async with consumer.lock:
            start = cursor = consumer.cursor
            if want in consumer.seen:
                item = consumer.seen[want]
                result.data = {
                    "from_cursor": start, "cursor": item["cursor"], "items_read": 0, "pages": 0,
                    "event_id": item["event_id"], "already": True,
                }  # fmt: skip
                result.detail = f"{step.event} of {result.pin} already processed"
                return item
            read = pages = 0
            found: dict[str, Any] | None = None
            while pages < FEED_PAGES and found is None:
                send = await self._headers(procedure, step, headers, None)
                r = await self.gateway.get(
                    "/v1/registry/changes", params={"after": cursor}, headers=send
                )
                result.requests += 1
                pages += 1
                result.http_status = r.status_code
                if r.status_code == 422 and _problem_code(r) == "FEED_INVALID_CURSOR":
                    if cursor == "0":
                        break
                    cursor = start = "0"  # a cursor of another database: read from the start
                    continue
                if r.status_code != 200:
                    result.status = "error"
                    result.detail = f"changes: {r.status_code} {_problem_code(r)}"
                    return None
                page = r.json()
                for item in page["items"]:
                    read += 1
                    cursor = item["cursor"]
                    if item["type"] == step.event:
                        consumer.remember(item)
                    if (item["type"], item["pin"]) == want:
                        found = item
                        break
                if found is None:
                    if page["next_cursor"] == cursor and not page["items"]:
                        break  # the end of the feed
                    cursor = page["next_cursor"]
            consumer.cursor = cursor
        result.data = {"from_cursor": start, "cursor": cursor, "items_read": read,
                       "pages": pages}  # fmt: skip
        if found is None:
            result.status = "error"
            result.detail = (
                f"no {step.event} item for {result.pin} in the change feed "
                f"(read {read} items from cursor {start} to {cursor})"
            )
            return None
        result.data["event_id"] = found["event_id"]
        result.detail = (
            f"found the {step.event} at cursor {found['cursor']} "
            f"(read {read} item{'s' if read != 1 else ''} from cursor {start})"
        )
        return found

    def _issue(self, step: Step, result: StepResult, facts: Facts) -> dict[str, Any] | None:
        """The agency issues a document in its own system (not simulated: a MOCK number)."""
        try:
            document: dict[str, Any] = render(step.document, facts)
        except TemplateError as exc:
            result.status, result.detail = "error", f"document: no value for {{{exc}}}"
            return None
        document["mock"] = True
        result.data = document
        result.detail = f"{document['number']} (mock)"
        return document

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
        tokens = r.json()
        achieved = _acr_level(tokens.get("id_token"))
        if achieved < step.level:  # an RP checks the acr it got, not only the one it asked for
            result.status = "refused"
            result.detail = f"level {step.level} required, the login reached level {achieved}"
            return None
        access = tokens["access_token"]
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


def _acr_level(id_token: str | None) -> int:
    """The level of a login from its ID token's ``acr`` ("1"/"2" or "LoA1"/"LoA2"); 0 if none.

    The ID token came straight from the token endpoint (OIDC Core §3.1.3.7: the TLS channel may
    stand for its signature); only its claims are read."""
    if not id_token or id_token.count(".") != 2:
        return 0
    try:
        payload = id_token.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return 0
    acr = str(claims.get("acr", "")) if isinstance(claims, dict) else ""
    return int(acr[-1]) if acr[-1:] in ("1", "2") else 0


def _check(step: Step, result: StepResult, data: dict[str, Any], facts: Facts) -> None:
    """The step's expectations on its answer; the first unmet one makes the step an error."""
    for path, want in step.expect.items():
        expected = render(want, facts) if isinstance(want, str) and want.startswith("$") else want
        got = resolve(data, path)
        parent = resolve(data, path.rpartition(".")[0]) if "." in path else data
        absent = not isinstance(parent, dict) or path.rpartition(".")[2] not in parent
        if got != expected or absent:  # a null expected is a field present and null
            result.status = "error"
            shown = "nothing" if absent else repr(got)
            result.detail = f"expected {path} = {expected!r}, got {shown}"[:300]
            return
    checked = ", ".join(f"{p}={resolve(data, p)!r}" for p in step.expect)
    result.detail = f"{result.detail}; checked {checked}" if result.detail else f"checked {checked}"


def _failed(results: list[StepResult]) -> set[str]:
    return {r.id for r in results if r.status in ("refused", "error")}


def _client(procedure: Procedure, step: Step) -> str | None:
    return None if step.kind == "vneid-login" else procedure.agency_of(step).client_id


def _derived(procedure: Procedure, role: str, facts: Facts) -> str | None:
    path = procedure.roles[role].derived_from
    value = resolve(facts, path) if path else None
    return value if isinstance(value, str) else None


def _problem(r: httpx.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {"code": "non-JSON answer"}
    return body if isinstance(body, dict) else {}


def _problem_code(r: httpx.Response) -> str:
    return str(_problem(r).get("code", ""))


__all__ = [
    "REDIRECT_URI", "FeedConsumer", "RunError", "RunResult", "Runner", "StepResult", "generate",
    "persona_pin", "render", "today_in_vietnam",
]  # fmt: skip
