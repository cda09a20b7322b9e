"""Examples of the registry contract, produced by the real service over the personas.

The personas (``mock_registry/personas.py``) are loaded into an in-memory store as of the default
``as_of`` date, and every example is what :class:`RegistryService` answers for them: records,
verifications, the household, the CT07 data and the problems. The gateway reuses them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from sim06.mock_registry import personas
from sim06.mock_registry.citizen import record_of, row_of
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.common.openapi_docs import ServiceExamples, problem_of, validation_problem
from sim06.services.common.settings import DEFAULT_AS_OF, Settings
from sim06.services.registry import event_examples, schemas
from sim06.services.registry.service import RegistryService

__all__ = ["ADULT", "VERIFY_REQUESTS", "examples", "persona_service", "verify_batch_request"]

JSON = "application/json"
ADULT = personas.BY_KEY["adult-level2"].pin
_PIN = {p.key: p.pin for p in personas.PERSONAS}
# The default population: the seeded citizens and the personas.
CITIZENS = int(Settings.model_fields["population_size"].default) + len(personas.PERSONAS)

# Declarations as integrators send them (names as typed at a counter: case and accents vary).
VERIFY_REQUESTS: dict[str, dict[str, Any]] = {
    "match": {"pin": ADULT, "full_name": "NGUYEN VAN AN", "date_of_birth": "1990-05-12"},
    "mismatch": {  # same name and birthday as name-collision-a, who lives in Hà Nội
        "pin": _PIN["name-collision-b"],
        "full_name": "Nguyễn Thị Lan",
        "date_of_birth": "1985-02-15",
        "sex": "female",
    },
    "by-cmnd": {"cmnd": "131524689", "full_name": "Đặng Văn Tư", "birth_year": 1955},
    "not-found": {"pin": "001090000001", "full_name": "Nguyễn Văn Bình"},
}


def verify_batch_request() -> dict[str, Any]:
    """A batch as a bank sends it overnight: good, mismatched and malformed declarations."""
    return {
        "items": [
            VERIFY_REQUESTS["match"],
            VERIFY_REQUESTS["mismatch"],
            {"pin": "00109010421", "full_name": "Nguyễn Văn An"},
            {"pin": _PIN["deceased"], "full_name": "Hồ Văn Thắng", "birth_year": 1950},
        ]
    }


@cache
def persona_service() -> RegistryService:
    """The registry service over an in-memory store holding the personas only."""
    store = SQLiteCitizenStore(":memory:")
    data_as_of = f"{DEFAULT_AS_OF.isoformat()}T00:00:00+07:00"
    store.add(
        [row_of(p, orjson.dumps(record_of(p, data_as_of))) for p in personas.build(DEFAULT_AS_OF)]
    )
    store.finish_load()
    # model_construct: the defaults, never the environment (the contract must not vary).
    return RegistryService(Settings.model_construct(), store)


def _verify(request: dict[str, Any]) -> dict[str, Any]:
    return persona_service().verify(schemas.VerifyRequest.model_validate(request))


@cache
def examples() -> ServiceExamples:
    """The registry's examples (built once)."""
    service = persona_service()
    record = service.record
    unknown = VERIFY_REQUESTS["not-found"]["pin"]
    empty = RegistryService(Settings.model_construct(), SQLiteCitizenStore(":memory:"))
    batch = verify_batch_request()
    answers, feed = event_examples.answers()
    return ServiceExamples(
        requests={
            "citizens-verify": {JSON: VERIFY_REQUESTS},
            "citizens-verify-batch": {JSON: {"mixed": batch}},
            **{f"events-{kind}": {JSON: named} for kind, named in event_examples.REQUESTS.items()},
        },
        responses={
            # A retry (200, Idempotent-Replayed) answers the first answer, byte for byte.
            **{
                f"events-{kind}": {"201": {JSON: named}, "200": {JSON: named}}
                for kind, named in answers.items()
            },
            "events-changes": {"200": {JSON: {"first-two-events": feed}}},
            "citizens-get": {
                "200": {
                    JSON: {
                        "adult-level2": record(ADULT),
                        "deceased": record(_PIN["deceased"]),
                        "birth-year-only": record(_PIN["birth-year-only"]),
                    }
                }
            },
            "citizens-verify": {
                "200": {JSON: {name: _verify(body) for name, body in VERIFY_REQUESTS.items()}}
            },
            "citizens-verify-batch": {
                "200": {JSON: {"mixed": service.verify_batch(batch["items"])}}
            },
            "citizens-household": {"200": {JSON: {"adult-level2": service.household(ADULT)}}},
            "citizens-residence-confirmation": {
                "200": {JSON: {"adult-level2": service.residence_confirmation(ADULT)}}
            },
            "health-live": {"200": {JSON: {"live": {"status": "ok"}}}},
            "health-ready": {"200": {JSON: {"ready": {"status": "ready", "citizens": CITIZENS}}}},
        },
        problems={
            "INVALID_PIN": problem_of(lambda: service.record_bytes("003090104217")),
            "INVALID_CMND": problem_of(lambda: _verify({"cmnd": "02587316"})),
            "CITIZEN_NOT_FOUND": problem_of(lambda: service.record_bytes(unknown)),
            "CITIZEN_NOT_ALIVE": problem_of(
                lambda: service.residence_confirmation(_PIN["deceased"])
            ),
            "NO_HOUSEHOLD": problem_of(lambda: service.household(_PIN["temporary-residence-only"])),
            "BATCH_TOO_LARGE": problem_of(lambda: service.verify_batch([{}] * 1001)),
            "NOT_READY": problem_of(empty.ready),
        },
        operation_problems={
            "citizens-verify": {"VALIDATION_FAILED": problem_of(lambda: _verify({}))},
            "citizens-verify-batch": {
                "VALIDATION_FAILED": validation_problem(schemas.BatchRequest, {"items": ADULT})
            },
        },
        problem_paths={
            "INVALID_PIN": {"pin": "003090104217"},
            "CITIZEN_NOT_FOUND": {"pin": unknown},
            "CITIZEN_NOT_ALIVE": {"pin": _PIN["deceased"]},
            "NO_HOUSEHOLD": {"pin": _PIN["temporary-residence-only"]},
        },
    )
