"""``install_contract_tools(app, settings)``: strict mode and the journal, on any sim06 app.

Every ``create_app`` calls it last (after its routes). With the settings off (the default)
it installs nothing: no middleware, no route, so the hot path costs nothing.

Order of the middlewares, outermost first: journal → strict → the app. The journal so sees
the strict mode's refusals as the client did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Query
from starlette.responses import Response

from sim06.services.common.settings import Settings

if TYPE_CHECKING:
    from sim06.services.contract.journal import Journal

__all__ = ["JOURNAL_PATH", "install_contract_tools"]

JOURNAL_PATH = "/__sim06/journal"


def install_contract_tools(app: FastAPI, settings: Settings) -> None:
    """Install strict mode and/or the journal on ``app`` as ``settings`` ask."""
    if not (settings.strict_contracts or settings.contract_journal):
        return
    if getattr(app.state, "contract_index", None) is not None:
        return  # installed already: middlewares must not be stacked twice
    # Imported here: with the settings off, building an app never loads jsonschema.
    from sim06.services.contract.index import ContractIndex
    from sim06.services.contract.journal import Journal, JournalMiddleware
    from sim06.services.contract.strict import StrictContractMiddleware

    index = ContractIndex(app.openapi)
    app.state.contract_index = index
    if settings.strict_contracts:
        app.add_middleware(
            StrictContractMiddleware,
            index=index,
            max_body_bytes=settings.max_body_bytes,
            responses=settings.strict_responses,
        )
    if settings.contract_journal:
        journal = Journal(settings.contract_journal_size, settings.contract_journal_path)
        app.state.journal = journal
        app.add_middleware(JournalMiddleware, journal=journal, index=index)
        _journal_routes(app, journal)


def _journal_routes(app: FastAPI, journal: Journal) -> None:
    # Admin-ish routes of the simulator itself: kept out of the published contract.
    async def read_journal(
        since: int = Query(0, ge=0, description="Only exchanges with a greater seq."),
    ) -> Response:
        """The journal: a summary of each exchange served (see docs/ci-recipes.md)."""
        body: dict[str, Any] = journal.document(app.title, since)
        body["openapi"] = app.openapi_url
        return Response(orjson.dumps(body), media_type="application/json")

    async def reset_journal() -> Response:
        """Forget every journaled exchange (between test runs)."""
        journal.reset()
        return Response(status_code=204)

    app.add_api_route(JOURNAL_PATH, read_journal, methods=["GET"], include_in_schema=False)
    app.add_api_route(JOURNAL_PATH, reset_journal, methods=["DELETE"], include_in_schema=False)
