"""Schemathesis configuration for the live-server contract tests (``--config-file``).

Statuses added to Schemathesis's defaults, each for a reason a JSON Schema cannot carry:

- every operation may refuse a body with 413: SIM06_MAX_BODY_BYTES bounds the whole body,
  while a schema bounds each field (so a schema-valid body can still be too large);
- ``refusals`` maps an operation to the statuses it answers a schema-valid request that
  depends on registered state (an unknown client, an unregistered redirect URI) or on content
  the schema cannot describe (XML, a decodable image). Schemathesis itself exempts a token
  endpoint (``tokenUrl``) from this check for the same reason;
- ``rejections`` maps an operation to the other statuses by which it refuses a
  schema-violating request (an authorization endpoint redirects the error to the client).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["config"]

POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "413", "429", "5xx"]
NEGATIVE = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429",
            "5xx"]  # fmt: skip


def _statuses(values: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def config(
    refusals: Mapping[str, Sequence[int]], rejections: Mapping[str, Sequence[int]] | None = None
) -> str:
    """The TOML text: the 413 allowance plus each operation's own statuses."""
    lines = [
        "[checks.negative_data_rejection]",
        f"expected-statuses = {_statuses(NEGATIVE)}",
        "[checks.positive_data_acceptance]",
        f"expected-statuses = {_statuses(POSITIVE)}",
    ]
    rejections = rejections or {}
    for operation in sorted({*refusals, *rejections}):
        lines += ["[[operations]]", f'include-name = "{operation}"']
        for check, defaults, extra in (
            ("positive_data_acceptance", POSITIVE, refusals.get(operation)),
            ("negative_data_rejection", NEGATIVE, rejections.get(operation)),
        ):
            if extra:
                allowed = sorted({*defaults, *map(str, extra)})
                lines.append(f"checks.{check}.expected-statuses = {_statuses(allowed)}")
    return "\n".join(lines) + "\n"
