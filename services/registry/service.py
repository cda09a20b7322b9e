"""The registry's operations without HTTP: used by the registry app and, in process, by the
gateway. Every method returns plain data (or the stored JSON bytes) or raises ``ProblemError``."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from sim06.mock_registry.eid_subjects import kind_of_identifier
from sim06.mock_registry.ids import is_valid_pin, validate_cmnd, validate_pin
from sim06.mock_registry.matching import Declaration, compare, verdict
from sim06.mock_registry.store import CitizenStore
from sim06.services.common.http import validation_errors
from sim06.services.common.problems import ProblemError, problem_body
from sim06.services.common.settings import Settings
from sim06.services.registry import schemas, views

_declaration = TypeAdapter(schemas.VerifyRequest)


def invalid_pin(pin: str) -> ProblemError:
    """The 422 for a malformed PIN, naming every rule it breaks."""
    problems = validate_pin(pin)
    errors = [
        {
            "parameter": "pin",
            "in": "path",
            "rule": p.code,
            "reason": p.message,
            "reason_vi": p.message_vi,
        }
        for p in problems
    ]
    return ProblemError("INVALID_PIN", problems[0].message, errors=errors)


CANCELLED = b'"status":"cancelled"'  # a cancelled PIN's record (a correction re-issued it)


def cancelled_pin(pin: str, raw: bytes) -> ProblemError:
    """The 410 for a lookup or verification of a cancelled PIN, naming its replacement."""
    replaced_by = orjson.loads(raw).get("replaced_by")
    return ProblemError(
        "PIN_CANCELLED",
        f"The PIN {pin} was cancelled; the citizen's PIN is now {replaced_by}.",
        extra={"replaced_by": replaced_by},
    )


def not_a_citizen(store: CitizenStore, number: str) -> ProblemError | None:
    """The 404 for a foreigner's or an organisation's e-ID identifier (not in the population
    database), or None when ``number`` is no such account."""
    kind = kind_of_identifier(number)
    if kind is None or store.get_account(number) is None:
        return None
    what = "a foreigner's identification number" if kind == "foreigner" else "a tax code"
    return ProblemError(
        "NOT_A_CITIZEN",
        f"{number} is {what} with an e-ID account, not a citizen in the population database.",
        extra={"subject_type": kind},
    )


class RegistryService:
    """Lookups, verification, household and residence confirmation over a citizen store."""

    def __init__(self, settings: Settings, store: CitizenStore) -> None:
        self.settings = settings
        self.store = store

    def record_bytes(self, pin: str) -> bytes:
        """The stored JSON of a citizen (the hot path: no parsing, no copying)."""
        if not is_valid_pin(pin):
            raise not_a_citizen(self.store, pin) or invalid_pin(pin)
        raw = self.store.get(pin)
        if raw is None:
            raise ProblemError("CITIZEN_NOT_FOUND", f"No citizen has the PIN {pin}.")
        if CANCELLED in raw:
            raise cancelled_pin(pin, raw)
        return raw

    def record(self, pin: str) -> dict[str, Any]:
        """A citizen record as a dict."""
        parsed: dict[str, Any] = orjson.loads(self.record_bytes(pin))
        return parsed

    def verify(self, request: schemas.VerifyRequest) -> dict[str, Any]:
        """Compare a declaration with the database: per-field outcome and verdict."""
        if request.pin is None and request.cmnd is None:
            raise ProblemError(
                "VALIDATION_FAILED",
                "Give the PIN or the old CMND number of the citizen.",
                errors=[
                    {"pointer": "/pin", "rule": "required", "reason": "pin or cmnd is required"}
                ],
            )
        if request.pin is not None and not is_valid_pin(request.pin):
            raise not_a_citizen(self.store, request.pin) or invalid_pin(request.pin)
        if request.cmnd is not None and (problems := validate_cmnd(request.cmnd)):
            raise ProblemError("INVALID_CMND", problems[0].message)
        if request.pin is not None:
            raw = self.store.get(request.pin)
        else:
            assert request.cmnd is not None
            raw = self.store.get_by_cmnd(request.cmnd)
        if raw is not None and CANCELLED in raw:
            raise cancelled_pin(request.pin or request.cmnd or "", raw)
        if raw is None:
            return {
                "verdict": "not_found",
                "matched": False,
                "fields": None,
                "citizen_status": None,
                "record_type": None,
            }
        record = orjson.loads(raw)
        declared = Declaration(
            pin=request.pin,
            cmnd=request.cmnd,
            full_name=request.full_name,
            date_of_birth=request.date_of_birth,
            birth_year=request.birth_year,
            sex=request.sex,
        )
        fields = compare(declared, record)
        outcome = verdict(fields)
        return {
            "verdict": outcome,
            "matched": outcome == "match",
            "fields": fields,
            "citizen_status": record["status"],
            # A holder of an identity certificate is in the database but is not a citizen.
            "record_type": record.get("record_type", "citizen"),
        }

    def verify_batch(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Verify each item on its own; a bad item becomes an error entry, in order."""
        limit = self.settings.batch_limit
        if len(items) > limit:
            raise ProblemError(
                "BATCH_TOO_LARGE", f"{len(items)} items sent; at most {limit} are accepted."
            )
        results = []
        for index, item in enumerate(items):
            try:
                result = self.verify(_declaration.validate_python(item))
                results.append({"index": index, "result": result, "error": None})
            except ValidationError as exc:
                errors = validation_errors(
                    [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
                )
                error = problem_body(
                    "VALIDATION_FAILED", f"Item {index} breaks the contract.", errors=errors
                )
                results.append({"index": index, "result": None, "error": error})
            except ProblemError as exc:
                results.append({"index": index, "result": None, "error": exc.body()})
        return {"count": len(results), "results": results}

    def household_of(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The household view of a citizen's household, or None."""
        ref = record["household"]
        if ref is None:
            return None
        members = [orjson.loads(raw) for raw in self.store.household(ref["id"])]
        return views.household(record, members)

    def household(self, pin: str) -> dict[str, Any]:
        """The household that replaces the household book."""
        view = self.household_of(self.record(pin))
        if view is None:
            raise ProblemError("NO_HOUSEHOLD", f"The citizen {pin} is not in a household.")
        return view

    def residence_confirmation(self, pin: str) -> dict[str, Any]:
        """CT07 data for a living citizen."""
        record = self.record(pin)
        if record["status"] != "alive":
            raise ProblemError(
                "CITIZEN_NOT_ALIVE",
                f"The citizen {pin} is recorded as {record['status']}; no confirmation is issued.",
            )
        return views.residence_confirmation(
            record,
            self.household_of(record),
            self.settings.as_of,
            self.settings.residence_confirmation_validity_days,
        )

    def ready(self) -> int:
        """Number of citizens when the store is seeded and answers; NOT_READY otherwise."""
        citizens = self.store.get_meta("citizens") if self.store.ping() else None
        if citizens is None:
            raise ProblemError("NOT_READY", "The population database is not seeded or unavailable.")
        return int(citizens)
