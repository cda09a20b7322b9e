"""Bare ASGI app (no framework) answering every GET with one fixed JSON body.

It is the reference point of sim06's benchmarks: the cheapest useful thing a Python
server can do per request, so a service's throughput can be read as a fraction of it.
Run it with ``uvicorn services.bench.baseline:app``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

__all__ = ["BODY", "app", "make_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Shaped like a population-database citizen record so its size and encoding are realistic.
_RECORD: dict[str, Any] = {
    "personal_id": "001203004567",
    "full_name": "Nguyễn Thị Minh Khai",
    "other_names": [],
    "date_of_birth": "1990-05-17",
    "sex": "female",
    "nationality": "VN",
    "ethnicity": "Kinh",
    "religion": "none",
    "place_of_birth_registration": {
        "province_code": "01",
        "province": "Thành phố Hà Nội",
        "ward_code": "00004",
        "ward": "Phường Ba Đình",
    },
    "hometown": {
        "province_code": "40",
        "province": "Tỉnh Nghệ An",
        "ward_code": "16681",
        "ward": "Xã Nam Đàn",
    },
    "permanent_residence": {
        "address_line": "Số 12, ngõ 45, phố Đội Cấn",
        "province_code": "01",
        "province": "Thành phố Hà Nội",
        "ward_code": "00004",
        "ward": "Phường Ba Đình",
        "registered_on": "2015-09-01",
    },
    "current_residence": "same_as_permanent",
    "household": {"household_id": "HK0100004000123", "relation_to_head": "spouse"},
    "parents": {
        "father": {"full_name": "Nguyễn Văn Hùng", "personal_id": "001065001234"},
        "mother": {"full_name": "Trần Thị Lan", "personal_id": "001168005678"},
    },
    "spouse": {"full_name": "Lê Văn Tuấn", "personal_id": "001088009876"},
    "marital_status": "married",
    "blood_type": "O",
    "id_card": {
        "number": "001203004567",
        "kind": "chip_id_card",
        "issued_on": "2021-04-02",
        "expires_on": "2030-05-17",
        "issued_by": "Cục Cảnh sát quản lý hành chính về trật tự xã hội",
    },
    "status": "alive",
    "record_version": 7,
    "updated_at": "2024-11-20T08:15:00+07:00",
}

BODY: bytes = orjson.dumps(_RECORD)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def make_app(body: bytes = BODY, content_type: bytes = b"application/json") -> ASGIApp:
    """An ASGI app answering GET/HEAD with ``body`` (405 otherwise), pre-encoded once."""
    ok_start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", content_type), (b"content-length", b"%d" % len(body))],
    }
    ok_body = {"type": "http.response.body", "body": body}
    refused_start = {
        "type": "http.response.start",
        "status": 405,
        "headers": [(b"allow", b"GET, HEAD"), (b"content-length", b"0")],
    }
    empty_body = {"type": "http.response.body", "body": b""}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["method"] in ("GET", "HEAD"):
                await send(ok_start)
                await send(ok_body)
            else:
                await send(refused_start)
                await send(empty_body)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    return app


app = make_app()
