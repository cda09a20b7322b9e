"""Field policies: which operations a purpose grants and which response fields it may receive.

Data minimisation is applied to the registry's answer before it leaves the gateway: a grant
either passes every top-level field (``"*"``) or only the listed ones. Field names are checked
against the registry's published response models when the agency is loaded, so a typo in a
policy fails at start-up instead of silently hiding data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.registry import schemas

# operation -> OAuth scope that allows it
OPERATIONS: dict[str, str] = {
    "lookup": "registry:lookup",
    "verify": "registry:verify",
    "verify-batch": "registry:verify",
    "household": "registry:household",
    "residence-confirmation": "registry:residence",
}
ACCESS_LOG_SCOPE = "citizen:access-log"

_MODELS: dict[str, type[schemas.Out]] = {
    "lookup": schemas.CitizenRecord,
    "verify": schemas.VerifyResult,
    "verify-batch": schemas.VerifyResult,
    "household": schemas.Household,
    "residence-confirmation": schemas.ResidenceConfirmation,
}


def known_fields(operation: str) -> frozenset[str]:
    """Top-level response fields of ``operation``."""
    return frozenset(_MODELS[operation].model_fields)


@dataclass(frozen=True, slots=True)
class Grant:
    """What one (procedure, purpose, operation) may receive; ``fields`` None means all."""

    operation: str
    fields: frozenset[str] | None

    def allows(self, requested: frozenset[str]) -> bool:
        return self.fields is None or requested <= self.fields

    def filter(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` reduced to the granted fields (verify-batch: each item's result)."""
        if self.fields is None:
            return data
        if self.operation == "verify-batch":
            return {
                **data,
                "results": [
                    {**item, "result": self._keep(item["result"])} for item in data["results"]
                ],
            }
        kept: dict[str, Any] = self._keep(data)
        return kept

    def _keep(self, data: dict[str, Any] | None) -> Any:
        if data is None or self.fields is None:
            return data
        return {k: v for k, v in data.items() if k in self.fields}

    def returned(self, data: dict[str, Any]) -> list[str]:
        """Names of the fields actually returned (for the audit record)."""
        if self.operation == "verify-batch":
            names: set[str] = set()
            for item in data.get("results", ()):
                if item.get("result"):
                    names.update(item["result"])
            return sorted(names)
        return sorted(data)


def compile_grant(operation: str, fields: list[str] | str) -> Grant:
    """Validate a grant of the agencies file against the registry's response models."""
    if fields == "*":
        return Grant(operation, None)
    if not isinstance(fields, list):
        raise ValueError(f"{operation}: fields must be '*' or a list")
    unknown = sorted(set(fields) - known_fields(operation))
    if unknown:
        raise ValueError(f"{operation}: unknown fields {unknown}")
    return Grant(operation, frozenset(fields))
