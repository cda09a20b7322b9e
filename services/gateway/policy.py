"""Field policies: which operations a purpose grants and which response fields it may receive.

Data minimisation is applied to the registry's answer before it leaves the gateway: a grant
either passes every top-level field (``"*"``) or only the listed ones. Field names are checked
against the registry's published response models when the agency is loaded, so a typo in a
policy fails at start-up instead of silently hiding data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim06.services.registry import event_schemas, schemas

# Civil-status events through the gateway: operation -> the registry's route (/v1/<kind>).
WRITE_OPERATIONS: dict[str, str] = {
    "register-birth": "births",
    "register-death": "deaths",
    "register-residence": "residence-changes",
    "register-marriage": "marriages",
    "register-divorce": "divorces",
    "register-correction": "corrections",
}
# operation -> OAuth scope that allows it
OPERATIONS: dict[str, str] = {
    "lookup": "registry:lookup",
    "verify": "registry:verify",
    "verify-batch": "registry:verify",
    "household": "registry:household",
    "residence-confirmation": "registry:residence",
    **dict.fromkeys(WRITE_OPERATIONS, "registry:write"),
    "changes": "registry:changes",
}
ACCESS_LOG_SCOPE = "citizen:access-log"

_MODELS: dict[str, type[schemas.Out]] = {
    "lookup": schemas.CitizenRecord,
    "verify": schemas.VerifyResult,
    "verify-batch": schemas.VerifyResult,
    "household": schemas.Household,
    "residence-confirmation": schemas.ResidenceConfirmation,
    **dict.fromkeys(WRITE_OPERATIONS, event_schemas.EventResult),
    # The feed's grant names the record fields an item's changes may show.
    "changes": schemas.CitizenRecord,
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
        if self.operation == "changes":
            return {**data, "items": [self.filter_change(item) for item in data["items"]]}
        kept: dict[str, Any] = self._keep(data)
        return kept

    def filter_change(self, item: dict[str, Any]) -> dict[str, Any]:
        """A feed item whose ``changes`` (and each related record's) keep the granted fields.

        The item's envelope (cursor, type, pin, time, event id, agency) always stays: a consumer
        must be able to follow the feed even when no granted field changed."""
        if self.fields is None:
            return item
        return {
            **item,
            "changes": self._keep(item["changes"]),
            "related": [
                {"pin": r["pin"], "changes": self._keep(r["changes"])} for r in item["related"]
            ],
        }

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
        if self.operation == "changes":
            changed: set[str] = set()
            for item in data.get("items", ()):
                changed.update(item["changes"])
                for related in item["related"]:
                    changed.update(related["changes"])
            return sorted(changed)
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
