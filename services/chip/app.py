"""Chip card API: reader simulation, chip verification (C06-style), card QR code, face match.

``create_router(settings, store)`` is mounted by the identity service (the architecture puts
``/chip/verify`` there); ``create_app(settings, store)`` serves it alone for tests and benchmarks.
"""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

import orjson
import segno
from fastapi import APIRouter, FastAPI, Path, Query
from starlette.responses import Response

from sim06.mock_registry.store import CitizenStore, SQLiteCitizenStore
from sim06.services.chip import schemas
from sim06.services.chip.biometrics import EXPECTED, FaceMatcher
from sim06.services.chip.service import ChipService
from sim06.services.common.admission import install_admission
from sim06.services.common.http import BodyLimitMiddleware, install_problem_handlers, operation_id
from sim06.services.common.observability import FASTAPI_OPTIONS
from sim06.services.common.offline_docs import install_offline_docs
from sim06.services.common.problems import openapi_responses
from sim06.services.common.settings import Settings
from sim06.services.registry.schemas import PIN_PATTERN, Problem

JSON = "application/json"
CARD_CODES = ("INVALID_PIN", "CITIZEN_NOT_FOUND", "NO_CHIP_CARD")
DEFECT_HELP = (
    "Produce a realistic bad card: tampered_dg (DG13 altered after signing), untrusted_signer "
    "(SOD signed by a DS not chained to the CSCA), expired_signer, revoked_signer (DS on the "
    "CRL), lost (the citizen's previous card, reported lost and replaced), moved (genuine card "
    "whose DG13 residence predates a move)."
)

PROBE_HELP = (
    "genuine (the holder: match), impostor (another synthetic person: no_match), replay (the "
    "holder photographed off a screen: liveness_failed), poor_quality (blurred, underexposed)."
)


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type=JSON)


def errors(*codes: str) -> dict[int | str, dict[str, Any]]:
    """The problem responses of an operation: its own codes plus the generic ones."""
    return openapi_responses(Problem, *codes)


def create_router(
    settings: Settings, store: CitizenStore, service: ChipService | None = None
) -> APIRouter:
    """The chip endpoints over ``store``; keys and PKI live under ``settings.keys_dir``."""
    chip = service if service is not None else ChipService(settings, store)
    router = APIRouter()
    # 12 digits enforced here; the published pattern also holds the province codes, which the
    # service checks, saying which rule a PIN breaks (INVALID_PIN), as the registry does.
    pin_path = Path(
        pattern=schemas.DIGITS_12,
        json_schema_extra={"pattern": PIN_PATTERN},
        examples=["001090104217"],
    )

    @router.get(
        "/v1/cards/{pin}/chip",
        tags=["chip"],
        name="read",
        summary="Read the card's chip as an NFC reader hands the files to an app (base64)",
        response_model=schemas.ChipFilesOut,
        responses=errors(*CARD_CODES),
    )
    async def read(
        pin: str = pin_path,
        defect: Annotated[schemas.Defect | None, Query(description=DEFECT_HELP)] = None,
    ) -> Response:
        headers = {"X-Sim06-Defect": defect} if defect else None
        return Response(orjson.dumps(chip.read(pin, defect)), media_type=JSON, headers=headers)

    @router.post(
        "/v1/chip/verify",
        tags=["chip"],
        name="verify",
        summary="Passive authentication of chip files and match against the population database",
        response_model=schemas.Verdict,
        responses=errors("INVALID_CHIP_FILE"),
    )
    async def verify(body: schemas.ChipFilesIn) -> Response:
        return _json(chip.verify(body))

    @router.get(
        "/v1/chip/jwks",
        tags=["chip"],
        name="jwks",
        summary="Public keys of the simulated C06 verdict signature",
        response_model=schemas.JWKS,
        responses=errors(),
    )
    async def jwks() -> Response:
        return _json(chip.jwks())

    @router.get(
        "/v1/cards/{pin}/qr",
        tags=["chip"],
        name="qr",
        summary="The card's QR code as text (JSON) or as a PNG/SVG image",
        response_model=schemas.QRText,
        responses={200: {"content": {"image/png": {}, "image/svg+xml": {}}}, **errors(*CARD_CODES)},
    )
    async def qr_code(
        pin: str = pin_path,
        layout: Annotated[
            Literal["cccd_7_field", "can_cuoc_extended"] | None,
            Query(description="Default: the layout of the card's kind (extended layout is [U])."),
        ] = None,
        format: Annotated[Literal["json", "png", "svg"], Query()] = "json",
    ) -> Response:
        data = chip.qr_text(pin, layout)
        if format == "json":
            return _json(data)
        out = io.BytesIO()
        code = segno.make(data["text"], error="m", encoding="utf-8")
        code.save(out, kind=format, scale=4, border=4)
        return Response(
            out.getvalue(), media_type="image/png" if format == "png" else "image/svg+xml"
        )

    @router.post(
        "/v1/cards/qr/parse",
        tags=["chip"],
        name="qr-parse",
        summary="Parse a card QR text and compare it with the population database",
        response_model=schemas.QRParsed,
        responses=errors("INVALID_QR_PAYLOAD"),
    )
    async def qr_parse(body: schemas.QRParseIn) -> Response:
        return _json(chip.qr_parse(body.text))

    faces = FaceMatcher(chip)

    @router.post(
        "/v1/biometrics/face-match",
        tags=["biometrics"],
        name="face-match",
        summary="Compare a face capture with the chip photo (DG2): quality, liveness, score",
        response_model=schemas.FaceMatchOut,
        responses=errors(
            *CARD_CODES,
            "INVALID_FACE_IMAGE",
            "FACE_IMAGE_TOO_LARGE",
            "INVALID_CHIP_FILE",
            "FACE_THRESHOLD_BELOW_FLOOR",
            "CARD_HAS_NO_FACE",
        ),
    )
    def face_match(body: schemas.FaceMatchIn) -> Response:
        # A plain def: image analysis is CPU work, so it runs in the thread pool.
        return _json(faces.match(body))

    @router.get(
        "/v1/biometrics/probes/{pin}",
        tags=["biometrics"],
        name="probe",
        summary="A synthetic face capture of the card holder that yields a chosen decision",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}, **errors(*CARD_CODES)},
    )
    def probe(
        pin: str = pin_path,
        kind: Annotated[schemas.ProbeKind, Query(description=PROBE_HELP)] = "genuine",
        format: Annotated[Literal["jpeg", "png"], Query()] = "jpeg",
    ) -> Response:
        headers = {"X-Sim06-Probe-Kind": kind, "X-Sim06-Expected-Decision": EXPECTED[kind]}
        return Response(
            faces.probe(pin, kind, format), media_type=f"image/{format}", headers=headers
        )

    return router


def create_app(settings: Settings, store: CitizenStore | None = None) -> FastAPI:
    """The chip endpoints as a standalone service (default store: the SQLite file)."""
    db: CitizenStore = store if store is not None else SQLiteCitizenStore(settings.database)
    service = ChipService(settings, db)
    app = FastAPI(
        **FASTAPI_OPTIONS,
        title="sim06 chip identity card",
        version="1.0.0",
        description=(
            "Simulated chip identity cards (ICAO 9303 LDS, passive authentication, C06-style "
            "verification) and card QR codes. Synthetic data and a simulated PKI only."
        ),
        generate_unique_id_function=operation_id,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    install_problem_handlers(app)
    install_offline_docs(app)  # /docs and /redoc without a CDN
    app.include_router(create_router(settings, db, service))

    @app.get("/healthz", tags=["health"], name="live")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type=JSON)

    app.state.store = db
    app.state.service = service
    install_admission(app, settings, "chip")  # outermost
    return app
