"""RFC 9457 problem details with stable codes from ``contracts/errors.yaml``.

Every error a sim06 service answers (outside the OAuth/OIDC endpoints, which follow RFC 6749) is
``application/problem+json`` with ``type``, ``title`` (English), ``title_vi`` (Vietnamese),
``status``, ``detail``, ``code`` and, for validation failures, ``errors`` (JSON pointer + rule);
with tracing on (``services.common.tracing``), ``trace_id`` names the request's trace.

    ProblemError            raised anywhere in a service; rendered by ``problem_response``
    └── code in catalogue   (a code missing from the catalogue is a programming error: KeyError)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import orjson
import yaml
from starlette.responses import Response

from sim06.services.common.tracing import current_trace_id

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """One entry of the error catalogue."""

    code: str
    status: int
    title: str
    title_vi: str
    description: str


@cache
def catalogue() -> dict[str, ErrorSpec]:
    """The error catalogue, loaded once from the packaged copy of ``contracts/errors.yaml``."""
    text = resources.files("sim06.services.common").joinpath("errors.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)["errors"]
    return {
        str(code): ErrorSpec(
            code=str(code),
            status=int(entry["status"]),
            title=entry["title"],
            title_vi=entry["title_vi"],
            description=entry["description"],
        )
        for code, entry in raw.items()
    }


class ProblemError(Exception):
    """An error with a stable code, rendered as problem+json."""

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.spec = catalogue()[code]
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra
        super().__init__(f"{code}: {detail}")

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The problem document as a dict."""
        return problem_body(
            self.spec.code, self.detail, instance=instance, errors=self.errors, extra=self.extra
        )


def problem_body(
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build an RFC 9457 problem document for ``code``."""
    spec = catalogue()[code]
    body: dict[str, Any] = {
        "type": f"urn:sim06:problem:{spec.code}",
        "title": spec.title,
        "title_vi": spec.title_vi,
        "status": spec.status,
        "detail": detail,
        "code": spec.code,
    }
    if instance is not None:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    trace_id = current_trace_id()  # None unless tracing is on: the body is unchanged then
    if trace_id is not None:
        body["trace_id"] = trace_id
    if extra:
        body.update(extra)
    return body


def problem_response(
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A problem+json response for ``code``."""
    body = problem_body(code, detail, instance=instance, errors=errors, extra=extra)
    return Response(
        orjson.dumps(body),
        status_code=body["status"],
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


GENERIC_CODES = (
    "MALFORMED_BODY",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "VALIDATION_FAILED",
)


def openapi_responses(
    model: Any, *codes: str, generic: tuple[str, ...] = GENERIC_CODES
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for problem codes, grouped by status, each status listing its
    codes under ``x-error-codes`` (what contract coverage counts) and typed by ``model``."""
    by_status: dict[int, list[str]] = {}
    for code in (*codes, *generic):
        spec = catalogue()[code]
        if code not in by_status.setdefault(spec.status, []):
            by_status[spec.status].append(code)
    return {
        status: {
            "model": model,
            "content": {PROBLEM_MEDIA_TYPE: {}},
            "description": "; ".join(f"{c}: {catalogue()[c].title}" for c in names),
            "x-error-codes": names,
        }
        for status, names in sorted(by_status.items())
    }
