"""Population database API (CSDLQG về dân cư): lookup, verify, household, residence confirmation.

``create_app(settings, store)`` builds the service; nothing here reads the environment. The
operations themselves live in :class:`RegistryService`, which the gateway also calls in process.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Path
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from sim06.mock_registry.store import CitizenStore, SQLiteCitizenStore
from sim06.services.common.admission import BodyCost, install_admission
from sim06.services.common.http import BodyLimitMiddleware, install_problem_handlers, operation_id
from sim06.services.common.observability import FASTAPI_OPTIONS, install_observability
from sim06.services.common.offline_docs import install_offline_docs
from sim06.services.common.openapi_docs import install_openapi_docs
from sim06.services.common.problems import GENERIC_CODES, openapi_responses
from sim06.services.common.settings import Settings
from sim06.services.contract import install_contract_tools
from sim06.services.registry import examples, schemas
from sim06.services.registry.credentials import write_token
from sim06.services.registry.event_routes import install_event_routes
from sim06.services.registry.events import EventService
from sim06.services.registry.express import RegistryApp
from sim06.services.registry.fastpath import LookupFastPath
from sim06.services.registry.service import RegistryService
from sim06.services.testing import install_testing_tools

JSON = "application/json"
# A verify item ({"pin", "full_name", "birth_date"}) is about 64 bytes of JSON.
BATCH_ITEM_BYTES = 64


# OpenAPI links (stateful testing: a tool can follow a lookup to the household and CT07, and a
# verification of a PIN to the record).
LINKS_FROM_RECORD = {
    "household": {
        "operationId": "citizens-household",
        "parameters": {"pin": "$response.body#/pin"},
        "description": "The household of the citizen just read.",
    },
    "residenceConfirmation": {
        "operationId": "citizens-residence-confirmation",
        "parameters": {"pin": "$response.body#/pin"},
        "description": "The CT07 data of the citizen just read.",
    },
}
LINKS_FROM_VERIFY = {
    "record": {
        "operationId": "citizens-get",
        "parameters": {"pin": "$request.body#/pin"},
        "description": "The record of the citizen just verified (when verified by PIN).",
    },
}

# The generic problems every operation may answer (also used by the gateway's app).
PROBLEM_RESPONSES = openapi_responses(schemas.Problem)


def errors(
    *codes: str, generic: tuple[str, ...] = GENERIC_CODES
) -> dict[int | str, dict[str, Any]]:
    """The problem responses of an operation: its own codes plus the generic ones."""
    return openapi_responses(schemas.Problem, *codes, generic=generic)


class PinSegment(Convertor[str]):
    """The ``{pin}`` path segment: anything but the sibling operations' names.

    Without the exclusion, ``GET /v1/citizens/verify`` would be taken as a lookup of the PIN
    "verify" (422) instead of a method the path does not allow (405). Any other malformed PIN
    still reaches the handler, which explains what is wrong with it.
    """

    regex = r"(?!verify(?:-batch)?$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("pin", PinSegment())


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type=JSON)


def create_app(settings: Settings, store: CitizenStore | None = None) -> FastAPI:
    """Build the registry service over ``store`` (default: the SQLite file of ``settings``)."""
    db: CitizenStore = store if store is not None else SQLiteCitizenStore(settings.database)
    service = RegistryService(settings, db)
    # RegistryApp: FastAPI with the express lane for lookups (express.py).
    app = RegistryApp(
        **FASTAPI_OPTIONS,
        title="sim06 population registry",
        version="1.0.0",
        description=(
            "Simulated national population database (CSDLQG về dân cư) for Project 06 "
            "integration tests. Synthetic data only."
        ),
        generate_unique_id_function=operation_id,
    )
    # Added first, so it runs innermost: faults, expectations and the journal still see lookups.
    app.add_middleware(LookupFastPath, store=db)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_problem_handlers(app)
    install_offline_docs(app)  # /docs and /redoc without a CDN

    pin_path = Path(
        description="Personal identification number (số định danh cá nhân), 12 digits.",
        json_schema_extra={"pattern": schemas.PIN_PATTERN},
        examples=["001090104217"],
    )

    @app.get(
        "/v1/citizens/{pin:pin}",
        tags=["citizens"],
        name="get",
        summary="Look up a citizen by personal identification number",
        responses={
            200: {"model": schemas.CitizenRecord, "links": LINKS_FROM_RECORD},
            **errors("INVALID_PIN", "CITIZEN_NOT_FOUND", "PIN_CANCELLED", "NOT_A_CITIZEN"),
        },
    )
    async def get_citizen(pin: str = pin_path) -> Response:
        # Hot path: the stored JSON goes out as is. The SQLite read is a page-cache hit of a few
        # microseconds, cheaper than a hop to a thread pool.
        return Response(service.record_bytes(pin), media_type=JSON)

    @app.post(
        "/v1/citizens/verify",
        tags=["citizens"],
        name="verify",
        summary="Verify declared identity data against the population database",
        response_model=schemas.VerifyResult,
        responses={
            200: {"links": LINKS_FROM_VERIFY},
            **errors("INVALID_PIN", "INVALID_CMND", "PIN_CANCELLED", "NOT_A_CITIZEN"),
        },
    )
    async def verify(body: schemas.VerifyRequest) -> Response:
        return _json(service.verify(body))

    @app.post(
        "/v1/citizens/verify-batch",
        tags=["citizens"],
        name="verify-batch",
        summary="Verify up to 1,000 declarations; each item succeeds or fails on its own",
        response_model=schemas.BatchResult,
        responses=errors("BATCH_TOO_LARGE"),
    )
    async def verify_batch(body: schemas.BatchRequest) -> Response:
        return _json(service.verify_batch(body.items))

    @app.get(
        "/v1/citizens/{pin:pin}/household",
        tags=["citizens"],
        name="household",
        summary="The citizen's household: replaces the household book (sổ hộ khẩu)",
        response_model=schemas.Household,
        responses=errors(
            "INVALID_PIN", "CITIZEN_NOT_FOUND", "PIN_CANCELLED", "NOT_A_CITIZEN", "NO_HOUSEHOLD"
        ),
    )
    async def household(pin: str = pin_path) -> Response:
        return _json(service.household(pin))

    @app.get(
        "/v1/citizens/{pin:pin}/residence-confirmation",
        tags=["citizens"],
        name="residence-confirmation",
        summary="Residence confirmation (CT07) data: replaces the paper confirmation",
        response_model=schemas.ResidenceConfirmation,
        responses=errors(
            "INVALID_PIN",
            "CITIZEN_NOT_FOUND",
            "PIN_CANCELLED",
            "NOT_A_CITIZEN",
            "CITIZEN_NOT_ALIVE",
        ),
    )
    async def residence_confirmation(pin: str = pin_path) -> Response:
        return _json(service.residence_confirmation(pin))

    @app.get("/healthz", tags=["health"], name="live", response_model=schemas.Health)
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    @app.get(
        "/readyz",
        tags=["health"],
        name="ready",
        response_model=schemas.Health,
        responses=errors("NOT_READY", generic=()),
    )
    async def readyz() -> Response:
        return _json({"status": "ready", "citizens": service.ready()})

    events = EventService(settings, db)
    install_event_routes(app, events, write_token(settings), errors)

    app.state.store = db
    app.state.service = service
    app.state.events = events
    app.state.event_store = db  # the overlay's snapshot/reset part (services.testing.state)
    install_openapi_docs(app, examples.examples)  # before the contract tools read app.openapi
    install_testing_tools(app, settings)  # snapshot/reset and expectations (before the journal)
    install_contract_tools(app, settings)  # strict mode and journal, when the settings ask
    # Outside every layer of the service (fast path included): a batch costs ~1 unit an item.
    batch = BodyCost(BATCH_ITEM_BYTES, settings.batch_limit)
    costs = {("POST", "/v1/citizens/verify-batch"): batch}
    install_admission(app, settings, "registry", costs=costs)
    install_observability(app, settings, service="registry")  # last: wraps every layer
    return app
