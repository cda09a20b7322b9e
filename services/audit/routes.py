"""The audit evidence on the gateway: the audit key, signed tree heads, consistency proofs,
and the mock time-stamping authority. Public: they hold hashes and signatures, no record.

GET  /.well-known/audit-jwks.json           the audit key set (verifies tree heads only)
GET  /v1/audit/tree-heads/latest            the newest signed tree head
GET  /v1/audit/tree-heads                   the most recent heads, oldest first
GET  /v1/audit/consistency?first=&second=   RFC 9162 consistency proof between two sizes
POST /__sim06/tsa                           RFC 3161 over HTTP (timestamp-query → -reply)
GET  /__sim06/tsa/root.pem                  the TSA's trust anchor (both outside the contract)
"""

from __future__ import annotations

import anyio
import orjson
from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from sim06.services.audit.backends import audit_keys
from sim06.services.audit.checkpoints import Checkpoints, TreeHead, b64
from sim06.services.audit.sqlite import AuditLog
from sim06.services.audit.tsa import QUERY_TYPE, REPLY_TYPE, TimeStampAuthority
from sim06.services.common.problems import ProblemError, openapi_responses
from sim06.services.common.settings import Settings
from sim06.services.registry.schemas import Problem


class TreeHeadBody(BaseModel):
    """A signed tree head (RFC 9162 §4.10, signed as a JWS rather than TLS-encoded)."""

    model_config = ConfigDict(extra="forbid")

    log: str = Field(description="The log: 'audit' (the SQLite file's name) or 'postgres'.")
    tree_size: int = Field(ge=0, description="Records the tree covers (seq 1..tree_size).")
    root_hash: str = Field(description="MTH of the records' leaves, base64.")
    timestamp: str = Field(description="When it was signed, RFC 3339 UTC.")
    signature: str = Field(
        description="Compact JWS (ES256, typ sim06-sth+jwt) whose payload is {log, root_hash, "
        "timestamp, tree_size}; verify with GET /.well-known/audit-jwks.json."
    )
    timestamp_token: str | None = Field(
        default=None,
        description="RFC 3161 TimeStampResp over the signature's ASCII, base64 (only with "
        "SIM06_AUDIT_TIMESTAMP).",
    )


class TreeHeads(BaseModel):
    """The most recent signed tree heads, oldest first."""

    model_config = ConfigDict(extra="forbid")

    heads: list[TreeHeadBody]


class ConsistencyBody(BaseModel):
    """PROOF(first, D[second]) of RFC 9162 §2.1.4, each node base64."""

    model_config = ConfigDict(extra="forbid")

    first: int
    second: int
    proof: list[str]


# Contract examples: the shapes of a real head and proof (values from a test log).
_HEAD_EXAMPLE = {
    "log": "audit",
    "tree_size": 1000,
    "root_hash": "3kq0W1H1mZ9m8bY4mO6jv0m0nV3wqvYt2q4qkJ9yJmI=",
    "timestamp": "2026-12-07T03:15:42.118Z",
    "signature": "eyJhbGciOiJFUzI1NiIsImtpZCI6ImF1ZGl0LTEiLCJ0eXAiOiJzaW0wNi1zdGgrand0In0."
    "eyJsb2ciOiJhdWRpdCIsInJvb3RfaGFzaCI6IjNrcTBXMUgxbVo5bThiWTRtTzZqdjBtMG5WM3dxdll0MnE0"
    "cWtKOXlKbUk9IiwidGltZXN0YW1wIjoiMjAyNi0xMi0wN1QwMzoxNTo0Mi4xMThaIiwidHJlZV9zaXplIjox"
    "MDAwfQ.MEUCIQDk2h0ZDemo-signature-shape-onlyAiEA7w3c",
    "timestamp_token": None,
}
_JWKS_EXAMPLE = {
    "keys": [{
        "kty": "EC", "crv": "P-256", "kid": "audit-1", "use": "sig", "alg": "ES256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    }]
}  # fmt: skip


_CONSISTENCY_EXAMPLE = {
    "first": 1000,
    "second": 2000,
    "proof": [
        "3kq0W1H1mZ9m8bY4mO6jv0m0nV3wqvYt2q4qkJ9yJmI=",
        "b1N0eW5Yq2m2Vb8lHq3nS0a5m6kX2r8Q1c7x9Z0wPqE=",
    ],
}


def _ok(example: object, media: str = "application/json") -> dict[int | str, dict[str, object]]:
    return {200: {"content": {media: {"example": example}}}}


def _checkpoints(audit: AuditLog) -> Checkpoints:
    if audit.checkpoints is None:
        raise ProblemError("NOT_FOUND", "This audit log keeps no signed tree heads.")
    return audit.checkpoints


def _json(body: object) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def install(app: FastAPI, audit: AuditLog, settings: Settings) -> None:
    """Add the audit evidence routes to the gateway ``app``."""
    keys = audit_keys(settings)

    @app.get(
        "/.well-known/audit-jwks.json",
        tags=["audit"],
        name="jwks",
        summary="The audit key set (signed tree heads)",
        response_class=Response,
        responses={200: {"content": {"application/jwk-set+json": {
            "schema": {"type": "object"}, "example": _JWKS_EXAMPLE}}}},
    )  # fmt: skip
    async def audit_jwks() -> Response:
        return Response(orjson.dumps(keys.jwks()), media_type="application/jwk-set+json")

    @app.get(
        "/v1/audit/tree-heads/latest",
        tags=["audit"],
        name="latest-tree-head",
        summary="The newest signed tree head of the audit log",
        response_model=TreeHeadBody,
        responses=_ok(_HEAD_EXAMPLE) | openapi_responses(Problem, "NOT_FOUND"),
    )
    async def latest() -> Response:
        head = await anyio.to_thread.run_sync(_checkpoints(audit).latest)
        if head is None:
            raise ProblemError("NOT_FOUND", "No tree head was signed yet.")
        return _json(head.as_json())

    @app.get(
        "/v1/audit/tree-heads",
        tags=["audit"],
        name="tree-heads",
        summary="The most recent signed tree heads, oldest first",
        response_model=TreeHeads,
        responses=_ok({"heads": [_HEAD_EXAMPLE]}) | openapi_responses(Problem, "NOT_FOUND"),
    )
    async def heads(limit: int = Query(100, ge=1, le=10_000)) -> Response:
        checkpoints = _checkpoints(audit)
        await anyio.to_thread.run_sync(checkpoints.latest)  # the other processes' heads too
        return _json({"heads": [h.as_json() for h in checkpoints.heads[-limit:]]})

    @app.get(
        "/v1/audit/consistency",
        tags=["audit"],
        name="consistency",
        summary="Consistency proof between two tree sizes (RFC 9162 §2.1.4)",
        response_model=ConsistencyBody,
        responses=_ok(_CONSISTENCY_EXAMPLE)
        | openapi_responses(Problem, "AUDIT_TREE_SIZE_INVALID", "NOT_FOUND"),
    )
    async def consistency(
        first: int = Query(ge=0, description="The older tree size (a signed head's)."),
        second: int = Query(ge=0, description="The newer one, at most the latest head's."),
    ) -> Response:
        checkpoints = _checkpoints(audit)
        latest = await anyio.to_thread.run_sync(checkpoints.latest)
        size = latest.tree_size if latest is not None else 0
        wrong = [
            {"parameter": name, "in": "query", "reason": f"past the latest signed size {size}"}
            for name, value in (("first", first), ("second", second))
            if value > size
        ]
        if first > second:
            wrong.append({"parameter": "first", "in": "query", "reason": "greater than second"})
        if wrong:
            raise ProblemError(
                "AUDIT_TREE_SIZE_INVALID",
                f"No consistency proof from {first} to {second}.",
                errors=wrong,
            )
        proof = checkpoints.consistency(first, second)
        return _json({"first": first, "second": second, "proof": [b64(p) for p in proof]})

    # A simulator tool like the other /__sim06 routes: outside the API contract (README).
    @app.post("/__sim06/tsa", name="tsa", include_in_schema=False)
    async def tsa(request: Request) -> Response:
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != QUERY_TYPE:
            raise ProblemError(
                "UNSUPPORTED_MEDIA_TYPE", f"Send a DER TimeStampReq as {QUERY_TYPE}."
            )
        authority = TimeStampAuthority.of(settings)
        reply = await anyio.to_thread.run_sync(authority.respond, await request.body())
        return Response(reply, media_type=REPLY_TYPE)

    @app.get("/__sim06/tsa/root.pem", name="tsa-root", include_in_schema=False)
    async def tsa_root() -> Response:
        from cryptography.hazmat.primitives.serialization import Encoding

        root = TimeStampAuthority.of(settings).root.public_bytes(Encoding.PEM)
        return Response(root, media_type="application/x-pem-file")


__all__ = ["TreeHead", "install"]
