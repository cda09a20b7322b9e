"""Citizen access log ("who looked at my data", after Estonia's Data Tracker).

``GET /v1/citizens/{pin}/access-log`` lists the successful exchanges that read a citizen's data:
when, which agency and officer, which procedure, purpose and legal basis, which fields. Records
of covert purposes (``hide_from_citizen_days``) appear only once that period has passed.

Civil-status writes are listed too (a birth, for instance, appears in the log of the child and
of each parent whose record it changed), and every entry says plainly what happened, in
Vietnamese and English: ``action_vi`` / ``action`` ("Đăng ký khai sinh do ... thực hiện" /
"birth registered by ..."). The digests the audit record keeps of a write are not shown.

Authentication: the admin token; a gateway access token with the scope
``citizen:access-log`` (an agency such as a citizen portal); or the citizen's own access token
from the identity service (scope ``access_log``, only their own PIN). The identity token is
verified offline with the identity provider's keys (``DATA_DIR/keys/identity``): signature by
the key its ``kid`` names, ``typ: at+jwt``, issuer, audience ``urn:sim06:gateway:access-log``,
expiry; its ``SoDinhDanh`` claim is the PIN (``services/identity/citizen_token.py`` says why
``sub`` cannot be used: it is a keyed hash).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import orjson
from fastapi import FastAPI, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from sim06.mock_registry.ids import is_valid_pin
from sim06.services.audit.proofs import attach_proofs, head_for
from sim06.services.audit.routes import TreeHeadBody
from sim06.services.common.problems import ProblemError, openapi_responses
from sim06.services.common.settings import Settings
from sim06.services.gateway.admin import admin_authorized
from sim06.services.gateway.contract_docs import security
from sim06.services.gateway.exchange import Gateway
from sim06.services.gateway.oauth import TokenError
from sim06.services.gateway.policy import ACCESS_LOG_SCOPE
from sim06.services.identity.app import issuer_of
from sim06.services.identity.citizen_token import (
    CitizenTokenError,
    is_identity_token,
    verify_citizen_token,
)
from sim06.services.identity.signing import IdentityKeys
from sim06.services.registry.schemas import PIN_PATTERN, Problem
from sim06.services.registry.service import invalid_pin

# Also the admin token or the citizen's own identity access token (scope access_log).
ACCESS_LOG_PROBLEMS = openapi_responses(
    Problem, "GATEWAY_UNAUTHENTICATED", "GATEWAY_INSUFFICIENT_SCOPE", "GATEWAY_NOT_OWN_RECORD",
    "INVALID_PIN",
)  # fmt: skip
ACCESS_LOG_PROBLEMS[401]["headers"] = {
    "WWW-Authenticate": {"required": True, "schema": {"type": "string"},
                         "description": "Bearer challenge: error and error_description."}
}  # fmt: skip


# What an exchange did, by operation: (Vietnamese, English) of the entry's label.
ACTIONS: dict[str, tuple[str, str]] = {
    "lookup": ("Tra cứu thông tin công dân", "record looked up"),
    "verify": ("Xác thực thông tin công dân", "identity data verified"),
    "verify-batch": ("Xác thực thông tin công dân (theo lô)", "identity data verified in a batch"),
    "household": ("Tra cứu thông tin hộ gia đình", "household looked up"),
    "residence-confirmation": (
        "Tra cứu thông tin xác nhận cư trú (CT07)",
        "residence confirmation (CT07) looked up",
    ),
    "register-birth": ("Đăng ký khai sinh", "birth registered"),
    "register-death": ("Đăng ký khai tử", "death registered"),
    "register-residence": ("Đăng ký cư trú", "residence registered"),
    "register-marriage": ("Đăng ký kết hôn", "marriage registered"),
    "register-divorce": ("Ghi chú ly hôn", "divorce recorded"),
    "register-correction": ("Cải chính hộ tịch", "civil-status correction"),
    "changes": ("Đọc danh sách thay đổi", "change feed read"),
}
_OTHER = ("Truy cập thông tin công dân", "data accessed")  # an operation without a label


def action_labels(
    operation: str, agency: str, name: str | None, name_vi: str | None
) -> tuple[str, str]:
    """``(action, action_vi)`` of an access-log entry: what ``agency`` did, in plain words."""
    vi, en = ACTIONS.get(operation, _OTHER)
    who = f"{name} ({agency})" if name else agency
    who_vi = f"{name_vi or name} ({agency})" if name_vi or name else agency
    return f"{en} by {who}", f"{vi} do {who_vi} thực hiện"


class InclusionProof(BaseModel):
    """The entry's place in the audit log's Merkle tree (RFC 9162 §2.1.3), against the body's
    ``tree_head`` (documentation only; ``services/audit/proofs.py``)."""

    model_config = ConfigDict(extra="forbid")

    leaf_index: int = Field(ge=0, description="seq - 1.")
    tree_size: int = Field(ge=1, description="The size of the signed tree head proved against.")
    record_hash: str = Field(description="The audit record's chain hash (hex, 64).")
    audit_path: list[str] = Field(description="The sibling hashes, leaf to root, base64.")


class AccessEntry(BaseModel):
    """One exchange that read or changed the citizen's data (documentation only)."""

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(description="The audit record's sequence number.")
    ts: str = Field(description="When, RFC 3339 UTC.")
    agency: str = Field(description="The agency code.")
    officer: str = Field(description="The officer (MaCanBo).")
    procedure: str = Field(description="The administrative procedure (MaDVC).")
    purpose: str
    legal_basis: str
    operation: str = Field(
        description="The gateway operation: lookup, verify, verify-batch, household, "
        "residence-confirmation, register-birth, register-death, register-residence, "
        "register-marriage, register-divorce, register-correction, changes."
    )
    fields: list[str] = Field(description="The fields the agency received.")
    request_id: str = Field(description="The request id (MaYeuCau).")
    agency_name: str | None = Field(description="Null if the agency is no longer registered.")
    agency_name_vi: str | None
    action: str = Field(
        description="What happened, in English: 'birth registered by <agency name> (<code>)', "
        "'record looked up by ...'.",
        examples=["birth registered by People's Committee of Ba Dinh ward, Ha Noi (000.21.01.H26)"],
    )
    action_vi: str = Field(
        description="What happened, in Vietnamese.",
        examples=[
            "Đăng ký khai sinh do UBND phường Ba Đình, thành phố Hà Nội (000.21.01.H26) thực hiện"
        ],
    )
    proof: InclusionProof | None = Field(
        default=None,
        description="Inclusion proof of the recorded fields (seq .. request_id) against "
        "tree_head; verify offline with scripts/verify_access_proof.py.",
    )


class AccessLog(BaseModel):
    """Who read or changed the citizen's data, oldest first (documentation only)."""

    model_config = ConfigDict(extra="forbid")

    pin: str
    count: int = Field(ge=0)
    accesses: list[AccessEntry]
    tree_head: TreeHeadBody | None = Field(
        default=None, description="The signed tree head the entries' proofs lead to."
    )


def _instant(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ProblemError(
            "VALIDATION_FAILED",
            f"{name} must be an ISO 8601 date or date-time.",
            errors=[{"parameter": name, "in": "query", "rule": "format", "reason": "ISO 8601"}],
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class CitizenTokens:
    """Verifies identity-service access tokens; the key set is opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.issuer = issuer_of(settings)
        self._keys: IdentityKeys | None = None

    def pin_of(self, token: str) -> str:
        """The PIN the token is for, or :class:`ProblemError` 401."""
        if self._keys is None:
            self._keys = IdentityKeys(self._settings)
        try:
            return verify_citizen_token(self._keys, self.issuer, token)
        except CitizenTokenError as exc:
            raise ProblemError(
                "GATEWAY_UNAUTHENTICATED",
                str(exc),
                headers={
                    "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{exc}"'
                },  # fmt: skip
            ) from None


def _authorize(
    gateway: Gateway, settings: Settings, citizens: CitizenTokens, request: Request, pin: str
) -> None:
    authorization = request.headers.get("authorization")
    if admin_authorized(settings, authorization):
        return
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and is_identity_token(value.strip(), citizens.issuer):
        if citizens.pin_of(value.strip()) != pin:
            raise ProblemError(
                "GATEWAY_NOT_OWN_RECORD", "The citizen token is for another citizen's PIN."
            )
        return
    try:
        token, _ = gateway.authenticate(authorization)
    except TokenError as exc:
        raise ProblemError(
            "GATEWAY_UNAUTHENTICATED",
            str(exc),
            headers={"WWW-Authenticate": exc.www_authenticate()},
        ) from None
    if ACCESS_LOG_SCOPE not in token.scopes:
        raise ProblemError(
            "GATEWAY_INSUFFICIENT_SCOPE", f"The access token lacks the scope {ACCESS_LOG_SCOPE}."
        )


def install(app: FastAPI, gateway: Gateway, settings: Settings) -> None:
    """Add the access-log route to ``app``."""
    citizens = CitizenTokens(settings)

    @app.get(
        "/v1/citizens/{pin}/access-log",
        tags=["citizens"],
        name="access-log",
        summary="Who accessed this citizen's data, when and for what purpose",
        response_model=AccessLog,
        responses=ACCESS_LOG_PROBLEMS,
        **security(ACCESS_LOG_SCOPE),
    )
    async def access_log(
        request: Request,
        pin: str = Path(json_schema_extra={"pattern": PIN_PATTERN}, examples=["001090104217"]),
        since: str | None = Query(None, description="From (inclusive), ISO 8601."),
        until: str | None = Query(None, description="Until (exclusive), ISO 8601."),
        agency: str | None = Query(None, description="Only this agency code."),
        purpose: str | None = Query(None, description="Only this purpose."),
        limit: int = Query(1000, ge=1, le=10_000),
    ) -> Response:
        _authorize(gateway, settings, citizens, request, pin)
        if not is_valid_pin(pin):
            raise invalid_pin(pin)
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        rows = gateway.audit.accesses(
            pin,
            now=now,
            since=_instant(since, "since"),
            until=_instant(until, "until"),
            agency=agency,
            purpose=purpose,
            limit=limit,
        )
        for row in rows:
            _label(gateway, row)
        head = None
        checkpoints = gateway.audit.checkpoints
        if checkpoints is not None and rows:
            newest = max(int(row["seq"]) for row in rows)
            head = await anyio.to_thread.run_sync(head_for, checkpoints, newest)
            attach_proofs(rows, checkpoints, head)
        else:
            for row in rows:
                row.pop("record_hash", None)
        body = {
            "pin": pin,
            "count": len(rows),
            "accesses": rows,
            "tree_head": head.as_json() if head is not None else None,
        }
        return Response(orjson.dumps(body), media_type="application/json")


def _label(gateway: Gateway, row: dict[str, Any]) -> None:
    """Add the agency's names and the entry's plain-words labels to an access-log row."""
    known = gateway.agencies.by_code(row["agency"])
    name = row["agency_name"] = known.spec.name if known else None
    name_vi = row["agency_name_vi"] = known.spec.name_vi if known else None
    row["action"], row["action_vi"] = action_labels(row["operation"], row["agency"], name, name_vi)
