"""Face match in process: each probe kind gives its decision; bad images are 4xx."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from sim06.services.chip import schemas
from sim06.services.chip.app import create_app
from sim06.services.common.settings import Settings

pytestmark = pytest.mark.anyio

ADULT = "001090104217"
NO_EID = "079078315062"
CHILD = "001216531774"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"face_max_image_bytes": 200_000}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://chip"
    ) as c:
        yield c
    app.state.store.close()


async def probe(client: httpx.AsyncClient, pin: str, kind: str, fmt: str = "jpeg") -> bytes:
    r = await client.get(f"/v1/biometrics/probes/{pin}", params={"kind": kind, "format": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == f"image/{fmt}"
    return r.content


async def match(client: httpx.AsyncClient, pin: str, image: bytes, **extra: Any) -> httpx.Response:
    body = {"pin": pin, "image": base64.b64encode(image).decode(), **extra}
    return await client.post("/v1/biometrics/face-match", json=body)


@pytest.mark.parametrize("pin", [ADULT, NO_EID])
@pytest.mark.parametrize(
    ("kind", "decision"),
    [
        ("genuine", "match"),
        ("impostor", "no_match"),
        ("replay", "liveness_failed"),
        ("poor_quality", "poor_quality"),
    ],
)
async def test_each_probe_kind_gives_its_decision(
    client: httpx.AsyncClient, pin: str, kind: str, decision: str
) -> None:
    image = await probe(client, pin, kind)
    r = await match(client, pin, image)
    assert r.status_code == 200, r.text
    out = schemas.FaceMatchOut.model_validate(r.json())
    assert out.decision == decision and out.matched is (decision == "match")
    assert out.quality.passed is (kind != "poor_quality")
    assert out.liveness.passed is (kind != "replay")
    assert out.reference == "card_dg2" and out.threshold == 0.8
    if kind in ("genuine", "replay"):
        assert out.score is not None and out.score >= 0.85  # the holder, whatever the gates say
    if kind == "impostor":
        assert out.score is not None and out.score < 0.3
    if kind == "poor_quality":
        assert {"blurred", "low_contrast"} <= set(out.quality.issues)


async def test_probes_and_scores_are_deterministic(client: httpx.AsyncClient) -> None:
    first = await probe(client, ADULT, "genuine")
    assert first == await probe(client, ADULT, "genuine")
    assert first != await probe(client, NO_EID, "genuine")
    a, b = (await match(client, ADULT, first)).json(), (await match(client, ADULT, first)).json()
    assert a == b
    # PNG carries the same capture: same decision, a score within JPEG noise.
    png = (await match(client, ADULT, await probe(client, ADULT, "genuine", "png"))).json()
    assert png["decision"] == "match" and abs(png["score"] - a["score"]) < 0.05


async def test_someone_elses_genuine_face_does_not_match(client: httpx.AsyncClient) -> None:
    out = (await match(client, ADULT, await probe(client, NO_EID, "genuine"))).json()
    assert out["decision"] == "no_match" and out["quality"]["passed"] and out["liveness"]["passed"]


async def test_threshold_override_and_submitted_dg2(client: httpx.AsyncClient) -> None:
    image = await probe(client, ADULT, "genuine")
    strict = (await match(client, ADULT, image, threshold=1.0)).json()
    assert strict["decision"] == "no_match" and strict["threshold"] == 1.0
    chip = (await client.get(f"/v1/cards/{ADULT}/chip")).json()
    out = (await match(client, ADULT, image, dg2Data=chip["dg2Data"])).json()
    assert out["reference"] == "submitted_dg2" and out["decision"] == "match"
    other = (await client.get(f"/v1/cards/{NO_EID}/chip")).json()
    out = (await match(client, ADULT, image, dg2Data=other["dg2Data"])).json()
    assert out["decision"] == "no_match"


async def test_a_caller_cannot_lower_the_threshold(client: httpx.AsyncClient) -> None:
    impostor = await probe(client, ADULT, "impostor")
    for lowered in (0.0, 0.5, 0.79):
        body = _problem(await match(client, ADULT, impostor, threshold=lowered), 422,
                        "FACE_THRESHOLD_BELOW_FLOOR")  # fmt: skip
        assert body["errors"] == [
            {"pointer": "/threshold", "rule": "minimum", "reason": "must be at least 0.8"}
        ]
    # The floor itself and anything stricter are accepted; the impostor still does not match.
    out = (await match(client, ADULT, impostor, threshold=0.8)).json()
    assert out["decision"] == "no_match" and out["threshold"] == 0.8


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (128, 128, 128)).save(out, "PNG")
    return out.getvalue()


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    assert body["code"] == code
    return body


async def test_bad_images_are_4xx(client: httpx.AsyncClient) -> None:
    body = _problem(await match(client, ADULT, b"GIF89a not a face"), 422, "INVALID_FACE_IMAGE")
    assert body["errors"][0]["rule"] == "format"
    body = _problem(await match(client, ADULT, _png(40, 50)), 422, "INVALID_FACE_IMAGE")
    assert body["errors"][0]["rule"] == "too_small"
    jpeg = await probe(client, ADULT, "genuine")
    body = _problem(await match(client, ADULT, jpeg[: len(jpeg) // 2]), 422, "INVALID_FACE_IMAGE")
    assert body["errors"][0]["rule"] == "format"
    # Dimensions are checked from the header, before any pixel is decoded.
    _problem(await match(client, ADULT, _png(5000, 100)), 413, "FACE_IMAGE_TOO_LARGE")
    _problem(await match(client, ADULT, b"\x89PNG" + bytes(200_001)), 413, "FACE_IMAGE_TOO_LARGE")
    r = await client.post("/v1/biometrics/face-match", json={"pin": ADULT, "image": "abc"})
    assert _problem(r, 422, "INVALID_FACE_IMAGE")["errors"][0]["rule"] == "base64"
    r = await client.post("/v1/biometrics/face-match", json={"pin": ADULT, "image": "no way!"})
    _problem(r, 422, "VALIDATION_FAILED")
    r = await match(client, ADULT, jpeg, dg2Data=base64.b64encode(b"junk").decode())
    _problem(r, 422, "INVALID_CHIP_FILE")
    _problem(await match(client, ADULT, jpeg, threshold=1.5), 422, "VALIDATION_FAILED")
    _problem(await match(client, CHILD, jpeg), 404, "NO_CHIP_CARD")
    _problem(await match(client, "001999999999", jpeg), 404, "CITIZEN_NOT_FOUND")


async def test_small_capture_is_poor_quality_not_an_error(client: httpx.AsyncClient) -> None:
    img = Image.open(io.BytesIO(await probe(client, ADULT, "genuine"))).resize((84, 112))
    out = io.BytesIO()
    img.save(out, "PNG")
    result = (await match(client, ADULT, out.getvalue())).json()
    assert result["decision"] == "poor_quality" and "low_resolution" in result["quality"]["issues"]


async def test_probe_errors(client: httpx.AsyncClient) -> None:
    r = await client.get(f"/v1/biometrics/probes/{ADULT}", params={"kind": "twin"})
    _problem(r, 422, "VALIDATION_FAILED")
    _problem(await client.get(f"/v1/biometrics/probes/{CHILD}"), 404, "NO_CHIP_CARD")
