"""Examples in the published contracts (issue #7): one for every operation and response.

``install_openapi_docs(app, examples)`` wraps ``app.openapi`` once and post-processes the
document FastAPI generates, caching the result as FastAPI does:

- a problem response (one with ``x-error-codes``) gets its schema under
  ``application/problem+json``, the media type the services really send; FastAPI puts the
  ``model`` under the route's media type (``application/json``), which is dropped. It also
  gets one named example per code, built as :func:`services.common.problems.problem_body`
  builds the real bodies;
- request bodies and success responses get the examples of the service's table
  (:class:`ServiceExamples`, keyed by ``operationId``).

An example a route declares inline is never replaced. The output is deterministic: the
committed contracts are compared with it as text.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from pydantic import TypeAdapter, ValidationError

from sim06.services.common import http
from sim06.services.common.problems import PROBLEM_MEDIA_TYPE, ProblemError, catalogue, problem_body
from sim06.services.common.settings import Settings

__all__ = [
    "OWN_ERRORS",
    "External",
    "Named",
    "ServiceExamples",
    "add_examples",
    "demo_jwt",
    "example_key",
    "install_openapi_docs",
    "problem_of",
    "validation_problem",
]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# An operation extension naming the standard whose errors the endpoint answers by itself (OAuth
# and OIDC: RFC 6749 §5.2 and the like). Strict mode leaves such requests to the endpoint, as
# a client library expects the standard's error, never a 422 problem+json.
OWN_ERRORS = "x-sim06-own-errors"
# The body limit of the default settings (read from the field: the environment must not leak in).
_MAX_BODY = int(Settings.model_fields["max_body_bytes"].default)


@dataclass(frozen=True, slots=True)
class External:
    """An example served elsewhere (``externalValue``): binary bodies such as images."""

    url: str
    summary: str = ""


Named = Mapping[str, Any]  # example name → value (or External)


@dataclass(frozen=True)
class ServiceExamples:
    """What one service adds to its contract, keyed by ``operationId``.

    ``requests``: operation → media type → named examples of the request body.
    ``responses``: operation → status → media type → named examples.
    ``problems``: code → a realistic problem, for any operation declaring the code;
    ``operation_problems``: operation → code → problem, where one operation needs its own.
    ``path_values``: path parameter → the value used in the ``instance`` of problems;
    ``problem_paths``: code → path values of that code's examples (the PIN its detail names);
    ``problem_members``: (operation, code) → members the service adds to that problem body.
    """

    requests: Mapping[str, Mapping[str, Named]] = field(default_factory=dict)
    responses: Mapping[str, Mapping[str, Mapping[str, Named]]] = field(default_factory=dict)
    problems: Mapping[str, ProblemError] = field(default_factory=dict)
    operation_problems: Mapping[str, Mapping[str, ProblemError]] = field(default_factory=dict)
    path_values: Mapping[str, str] = field(default_factory=dict)
    problem_paths: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    problem_members: Callable[[str, str], Mapping[str, Any]] = lambda _op, _code: {}


def demo_jwt(header: Mapping[str, Any], claims: Mapping[str, Any]) -> str:
    """A compact JWS of the real shape whose signature is a hash, not a signature: examples must
    be deterministic, and ECDSA signatures are not."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    signing_input = f"{b64(orjson.dumps(header))}.{b64(orjson.dumps(claims))}"
    return f"{signing_input}.{b64(hashlib.sha512(signing_input.encode()).digest())}"


def example_key(label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key derived from ``label``: example JWKs that stay the same from run to run."""
    digest = hashlib.sha256(f"sim06 contract example key: {label}".encode()).digest()
    return ec.derive_private_key(int.from_bytes(digest, "big") % 2**255 + 1, ec.SECP256R1())


def problem_of(call: Callable[[], object]) -> ProblemError:
    """The problem ``call`` raises: examples taken from the real code path."""
    try:
        call()
    except ProblemError as exc:
        return exc
    raise AssertionError(f"{call} raised no ProblemError")


def validation_problem(model: Any, value: Any) -> ProblemError:
    """The VALIDATION_FAILED the edge answers when ``value`` is posted as a ``model`` body."""
    try:
        TypeAdapter(model).validate_python(value)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        return ProblemError(
            "VALIDATION_FAILED",
            http.validation_detail(len(errors)),
            errors=http.validation_errors(errors),
        )
    raise AssertionError(f"{value!r} is a valid {model}")


def install_openapi_docs(app: FastAPI, examples: Callable[[], ServiceExamples]) -> None:
    """Make ``app.openapi()`` publish examples (``examples`` is called once, on first use).

    Install it before anything that captures ``app.openapi`` (the contract tools do).
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_examples(generate(), examples())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_examples(doc: dict[str, Any], examples: ServiceExamples) -> dict[str, Any]:
    """Post-process ``doc`` in place (see the module docstring); returns it."""
    seen: set[str] = set()
    for path, item in doc.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            op_id = str(op.get("operationId", ""))
            seen.add(op_id)
            body = op.get("requestBody")
            if isinstance(body, dict):
                _fill(body, examples.requests.get(op_id, {}), f"{op_id} request")
            for status, response in op.get("responses", {}).items():
                if "x-error-codes" in response:
                    _problems(response, op_id, method.upper(), path, op, examples)
                else:
                    table = examples.responses.get(op_id, {}).get(str(status), {})
                    _fill(response, table, f"{op_id} {status}")
            unknown = set(examples.responses.get(op_id, {})) - set(map(str, op["responses"]))
            if unknown:
                raise ValueError(f"examples for undeclared statuses of {op_id}: {unknown}")
    unused = (set(examples.requests) | set(examples.responses)) - seen
    if unused:
        raise ValueError(f"examples for unknown operations: {sorted(unused)}")
    return doc


def _fill(node: dict[str, Any], table: Mapping[str, Named], where: str) -> None:
    content = node.get("content", {})
    for media, named in table.items():
        if media not in content:
            raise ValueError(f"{where}: no {media} content to hold the examples")
        entry = content[media]
        if "example" not in entry and "examples" not in entry:
            entry["examples"] = {name: _example(value) for name, value in named.items()}


def _example(value: Any) -> dict[str, Any]:
    if isinstance(value, External):
        out = {"summary": value.summary} if value.summary else {}
        return {**out, "externalValue": value.url}
    return {"value": copy.deepcopy(value)}  # shared objects would become YAML aliases


def _problems(
    response: dict[str, Any],
    op_id: str,
    method: str,
    path: str,
    op: Mapping[str, Any],
    examples: ServiceExamples,
) -> None:
    content = response.setdefault("content", {})
    # FastAPI puts the model under the route's own media type (application/json, or text/html
    # for a page route); problems are only ever sent as application/problem+json.
    moved = [content.pop(media) for media in list(content) if media != PROBLEM_MEDIA_TYPE]
    entry = content.setdefault(PROBLEM_MEDIA_TYPE, {})
    schemas = [other["schema"] for other in moved if "schema" in other]
    if "schema" not in entry and schemas:
        entry["schema"] = schemas[0]
    if "example" in entry or "examples" in entry:
        return
    entry["examples"] = {
        code: {
            "summary": f"{code}: {catalogue()[code].title}",
            "value": {
                **copy.deepcopy(_problem(code, op_id, method, path, op, examples)),
                **examples.problem_members(op_id, code),
            },
        }
        for code in response["x-error-codes"]
    }


def _problem(
    code: str,
    op_id: str,
    method: str,
    path: str,
    op: Mapping[str, Any],
    examples: ServiceExamples,
) -> dict[str, Any]:
    values = {**examples.path_values, **examples.problem_paths.get(code, {})}
    instance = _concrete(path, op, values, override=set(examples.problem_paths.get(code, {})))
    chosen = examples.operation_problems.get(op_id, {}).get(code) or examples.problems.get(code)
    if chosen is not None:
        return chosen.body(instance=instance)
    if code == "NOT_FOUND":
        missing = instance.rstrip("/") + "/details"
        return problem_body(code, http.not_found_detail(missing), instance=missing)
    other = "DELETE" if method != "DELETE" else "PATCH"
    generic = {
        "METHOD_NOT_ALLOWED": (http.method_not_allowed_detail(other, instance), None),
        "PAYLOAD_TOO_LARGE": (http.too_large_detail(_MAX_BODY), None),
        "UNSUPPORTED_MEDIA_TYPE": (http.SEND_JSON, None),
        "MALFORMED_BODY": (
            http.NOT_JSON,
            [{"rule": "json_invalid", "reason": "JSON decode error", "pointer": "/8"}],
        ),
        "VALIDATION_FAILED": _validation(op),
    }
    detail, errors = generic.get(code, (catalogue()[code].description, None))
    return problem_body(code, detail, instance=instance, errors=errors)


def _validation(op: Mapping[str, Any]) -> tuple[str, list[dict[str, str]] | None]:
    """A generic VALIDATION_FAILED for an operation no table covers."""
    if "requestBody" not in op:
        return "The request breaks the contract of this operation.", None
    error = {
        "rule": "model_attributes_type",
        "reason": "Input should be a valid dictionary or object to extract fields from",
        "pointer": "/",
    }
    return http.validation_detail(1), [error]


def _concrete(
    path: str, op: Mapping[str, Any], values: Mapping[str, str], override: set[str]
) -> str:
    """``path`` with its parameters filled in: the parameter's example unless ``override``
    names it, else the value of ``values``."""
    own: dict[str, str] = {}
    for param in op.get("parameters", ()):
        listed = (param.get("schema") or {}).get("examples") or [None]
        found = param.get("example", listed[0])
        if param.get("in") == "path" and found is not None:
            own[str(param["name"])] = str(found)

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in own and name not in override:
            return own[name]
        if name in values:
            return values[name]
        raise ValueError(f"no example value for the path parameter {name!r} of {path}")

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", value, path)
