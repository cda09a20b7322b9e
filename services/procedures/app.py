"""Procedures API: ``create_app(settings, ...) -> FastAPI`` (proposed port 8003).

GET  /v1/procedures                 the catalogue (key, code, names, documents eliminated)
GET  /v1/procedures/{code}          one procedure as in contracts/procedures (key or code)
POST /v1/procedures/{code}/runs     run it: body {persona, roles, params, profile,
                                    request_id_prefix} -> the run (its writes included)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from sim06.services.common.admission import install_admission
from sim06.services.common.http import (
    BodyLimitMiddleware,
    install_problem_handlers,
    validation_errors,
)
from sim06.services.common.latency import ProfileBook
from sim06.services.common.observability import FASTAPI_OPTIONS, install_observability
from sim06.services.common.offline_docs import install_offline_docs
from sim06.services.common.problems import ProblemError
from sim06.services.common.settings import Settings
from sim06.services.procedures.catalogue import Catalogue, catalogue_dir
from sim06.services.procedures.clients import live_runner
from sim06.services.procedures.model import Procedure
from sim06.services.procedures.runner import RunError, Runner

RunnerFactory = Callable[[Settings], AbstractAsyncContextManager[Runner]]


class RunRequest(BaseModel):
    """Body of ``POST /v1/procedures/{code}/runs``."""

    model_config = ConfigDict(extra="forbid")

    persona: str = Field(min_length=1, max_length=64, examples=["level1-only"])
    roles: dict[str, str] = Field(default_factory=dict, examples=[{"father": "deceased"}])
    params: dict[str, str] = Field(default_factory=dict)
    profile: str | None = Field(default=None, description="X-Sim-Latency-Profile of every call.")
    request_id_prefix: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:-]{1,64}$",
        description="Run id: the writes' X-MaYeuCau derive from it, so a repeated run with the "
        "same id gets the first answers back (Idempotent-Replayed) instead of writing twice.",
    )


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _summary(p: Procedure) -> dict[str, Any]:
    return {"key": p.key, "code": p.code, "name_vi": p.name_vi, "name_en": p.name_en,
            "level": p.level, "documents": len(p.documents),
            "eliminated": sum(d.status == "replaced" for d in p.documents)}  # fmt: skip


def create_app(
    settings: Settings,
    *,
    catalogue: Catalogue | None = None,
    runner: RunnerFactory = live_runner,
) -> FastAPI:
    """Build the API; ``runner`` opens a :class:`Runner` (live HTTP by default) for the app."""
    cat = catalogue or Catalogue.load(catalogue_dir(settings))
    book = ProfileBook.load(settings.latency_profiles_file)
    holder: dict[str, Runner] = {}
    stack = AsyncExitStack()
    opening = asyncio.Lock()

    async def current_runner() -> Runner:
        # Opened on the first run, not at start-up: under `sim06 up` the gateway may not be
        # listening yet when this app starts.
        async with opening:
            if "runner" not in holder:
                holder["runner"] = await stack.enter_async_context(runner(settings))
        return holder["runner"]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with stack:
            yield

    app = FastAPI(
        **FASTAPI_OPTIONS,
        title="sim06 procedures", version="1.0.0", lifespan=lifespan,
        description="Administrative procedures without paper: run them through VNeID and the "
        "data-sharing gateway as their demo agency. Synthetic data only.",
    )  # fmt: skip
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_problem_handlers(app)
    install_offline_docs(app)  # /docs and /redoc without a CDN

    def find(code: str) -> Procedure:
        procedure = cat.find(code)
        if procedure is None:
            raise ProblemError("PROCEDURE_NOT_FOUND", f"no procedure {code!r} in the catalogue")
        return procedure

    @app.get("/v1/procedures", tags=["procedures"], name="list")
    async def list_procedures() -> Response:
        data = [_summary(p) for p in cat.all()]
        return _json({"count": len(data), "data": data})

    @app.get("/v1/procedures/{code}", tags=["procedures"], name="get")
    async def get_procedure(code: str) -> Response:
        return _json(find(code).model_dump(mode="json", by_alias=True))

    @app.post("/v1/procedures/{code}/runs", tags=["procedures"], name="run", status_code=201)
    async def run(code: str, request: Request) -> Response:
        procedure = find(code)
        try:
            body = RunRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            errors = validation_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
            raise ProblemError(
                "PROCEDURE_RUN_INVALID", "The run request is malformed.", errors=errors
            ) from None
        if body.profile is not None:
            try:
                book.resolve(body.profile)
            except KeyError:
                raise ProblemError(
                    "PROCEDURE_RUN_INVALID", f"unknown latency profile {body.profile!r}",
                    errors=[{"pointer": "/profile", "rule": "enum", "reason": str(book.names())}],
                ) from None  # fmt: skip
        try:
            result = await (await current_runner()).run(
                procedure,
                body.persona,
                body.roles,
                body.params,
                body.profile,
                body.request_id_prefix,
            )
        except RunError as exc:
            raise ProblemError(
                "PROCEDURE_RUN_INVALID", str(exc),
                errors=[{"pointer": f"/{exc.field_name}", "rule": "invalid", "reason": exc.reason}],
            ) from None  # fmt: skip
        return _json(result.as_dict(), 201)

    @app.get("/healthz", tags=["health"], name="live")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    install_admission(app, settings, "procedures")
    install_observability(app, settings, service="procedures")  # last: wraps every layer
    return app


__all__ = ["RunRequest", "create_app"]
