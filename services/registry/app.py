"""Population database API (CSDLQG về dân cư): lookup, verify, household, residence confirmation.

``create_app(settings, store)`` builds the service; nothing here reads the environment.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Path
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response

from mock_registry.ids import is_valid_pin, validate_cmnd, validate_pin
from mock_registry.matching import Declaration, compare, verdict
from mock_registry.store import CitizenStore, SQLiteCitizenStore
from services.common.http import BodyLimitMiddleware, install_problem_handlers, validation_errors
from services.common.problems import ProblemError, problem_body
from services.common.settings import Settings
from services.registry import schemas, views

JSON = "application/json"
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.Problem, "content": {"application/problem+json": {}}}
    for status in (400, 404, 405, 409, 413, 415, 422)
}


def operation_id(route: APIRoute) -> str:
    """Stable operation ids: ``{tag}-{name}``."""
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


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


def create_app(settings: Settings, store: CitizenStore | None = None) -> FastAPI:
    """Build the registry service over ``store`` (default: the SQLite file of ``settings``)."""
    db: CitizenStore = store if store is not None else SQLiteCitizenStore(settings.database)
    app = FastAPI(
        title="sim06 population registry",
        version="1.0.0",
        description=(
            "Simulated national population database (CSDLQG về dân cư) for Project 06 "
            "integration tests. Synthetic data only."
        ),
        generate_unique_id_function=operation_id,
        responses=PROBLEM_RESPONSES,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_problem_handlers(app)
    declaration_adapter = TypeAdapter(schemas.VerifyRequest)

    def load(pin: str) -> dict[str, Any]:
        if not is_valid_pin(pin):
            raise invalid_pin(pin)
        raw = db.get(pin)
        if raw is None:
            raise ProblemError("CITIZEN_NOT_FOUND", f"No citizen has the PIN {pin}.")
        record: dict[str, Any] = orjson.loads(raw)
        return record

    PinPath = Path(
        description="Personal identification number (số định danh cá nhân), 12 digits.",
        json_schema_extra={"pattern": schemas.PIN_PATTERN},
        examples=["001090000001"],
    )

    @app.get(
        "/v1/citizens/{pin}",
        tags=["citizens"],
        name="get",
        summary="Look up a citizen by personal identification number",
        responses={200: {"model": schemas.CitizenRecord}},
    )
    async def get_citizen(pin: str = PinPath) -> Response:
        # Hot path: the stored JSON goes out as is. The SQLite read is a page-cache hit of a few
        # microseconds, cheaper than a hop to a thread pool.
        if not is_valid_pin(pin):
            raise invalid_pin(pin)
        raw = db.get(pin)
        if raw is None:
            raise ProblemError("CITIZEN_NOT_FOUND", f"No citizen has the PIN {pin}.")
        return Response(raw, media_type=JSON)

    def verify_one(request: schemas.VerifyRequest) -> dict[str, Any]:
        if request.pin is None and request.cmnd is None:
            raise ProblemError(
                "VALIDATION_FAILED",
                "Give the PIN or the old CMND number of the citizen.",
                errors=[
                    {"pointer": "/pin", "rule": "required", "reason": "pin or cmnd is required"}
                ],
            )
        if request.pin is not None:
            if not is_valid_pin(request.pin):
                raise invalid_pin(request.pin)
            raw = db.get(request.pin)
        else:
            assert request.cmnd is not None
            problems = validate_cmnd(request.cmnd)
            if problems:
                raise ProblemError("INVALID_CMND", problems[0].message)
            raw = db.get_by_cmnd(request.cmnd)
        if raw is None:
            return {
                "verdict": "not_found",
                "matched": False,
                "fields": None,
                "citizen_status": None,
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
        }

    @app.post(
        "/v1/citizens/verify",
        tags=["citizens"],
        name="verify",
        summary="Verify declared identity data against the population database",
        response_model=schemas.VerifyResult,
    )
    async def verify(body: schemas.VerifyRequest) -> Response:
        return Response(orjson.dumps(verify_one(body)), media_type=JSON)

    @app.post(
        "/v1/citizens/verify-batch",
        tags=["citizens"],
        name="verify-batch",
        summary="Verify up to 1,000 declarations; each item succeeds or fails on its own",
        response_model=schemas.BatchResult,
    )
    async def verify_batch(body: schemas.BatchRequest) -> Response:
        if len(body.items) > settings.batch_limit:
            raise ProblemError(
                "BATCH_TOO_LARGE",
                f"{len(body.items)} items sent; at most {settings.batch_limit} are accepted.",
            )
        results = []
        for index, item in enumerate(body.items):
            try:
                result = verify_one(declaration_adapter.validate_python(item))
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
        return Response(orjson.dumps({"count": len(results), "results": results}), media_type=JSON)

    def household_of(record: dict[str, Any]) -> dict[str, Any] | None:
        ref = record["household"]
        if ref is None:
            return None
        members = [orjson.loads(raw) for raw in db.household(ref["id"])]
        return views.household(record, members)

    @app.get(
        "/v1/citizens/{pin}/household",
        tags=["citizens"],
        name="household",
        summary="The citizen's household: replaces the household book (sổ hộ khẩu)",
        response_model=schemas.Household,
    )
    async def household(pin: str = PinPath) -> Response:
        view = household_of(load(pin))
        if view is None:
            raise ProblemError("NO_HOUSEHOLD", f"The citizen {pin} is not in a household.")
        return Response(orjson.dumps(view), media_type=JSON)

    @app.get(
        "/v1/citizens/{pin}/residence-confirmation",
        tags=["citizens"],
        name="residence-confirmation",
        summary="Residence confirmation (CT07) data: replaces the paper confirmation",
        response_model=schemas.ResidenceConfirmation,
    )
    async def residence_confirmation(pin: str = PinPath) -> Response:
        record = load(pin)
        if record["status"] != "alive":
            raise ProblemError(
                "CITIZEN_NOT_ALIVE",
                f"The citizen {pin} is recorded as {record['status']}; no confirmation is issued.",
            )
        view = views.residence_confirmation(
            record,
            household_of(record),
            settings.as_of,
            settings.residence_confirmation_validity_days,
        )
        return Response(orjson.dumps(view), media_type=JSON)

    @app.get("/healthz", tags=["health"], name="live", response_model=schemas.Health)
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get(
        "/readyz",
        tags=["health"],
        name="ready",
        response_model=schemas.Health,
        responses={503: {"model": schemas.Problem}},
    )
    async def readyz() -> Response:
        citizens = db.get_meta("citizens") if db.ping() else None
        if citizens is None:
            raise ProblemError("NOT_READY", "The population database is not seeded or unavailable.")
        return Response(
            orjson.dumps({"status": "ready", "citizens": int(citizens)}), media_type=JSON
        )

    app.state.store = db
    return app
