"""Webhooks of the change feed: signatures, backoff, retries, feed rewinds, the admin API, the
webhooks file and test resets (in process; deliveries go to an httpx MockTransport)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from fastapi import FastAPI

from sim06.services.common.keys import KeyStore
from sim06.services.common.settings import Settings
from sim06.services.gateway.agencies import AgencyDirectory, load_agencies
from sim06.services.gateway.app import create_app
from sim06.services.gateway.registry_client import HttpRegistryClient
from sim06.services.gateway.webhook_delivery import WebhookDeliverer, WebhookSigner, backoff
from sim06.services.gateway.webhooks import WebhookStore, host_allowed, load_webhooks, url_problem
from sim06.services.registry.app import create_app as create_registry
from sim06.services.registry.credentials import write_token
from tests.event_requests import CENTENARIAN, birth, death
from tests.services.gateway.helpers import (
    ADMIN,
    BANK,
    BIRTH_OFFICE,
    DEATH_OFFICE,
    FUNERAL_OFFICE,
    SOCIAL_SECURITY,
    assert_problem,
)

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": f"Bearer {ADMIN}"}
HOOK = "http://127.0.0.1:9/hook"  # never reached: deliveries go to the MockTransport
FAST = {
    "gateway_admin_token": ADMIN,
    "gateway_webhook_poll_interval": 0.02,
    "gateway_webhook_backoff": 0.01,
    "gateway_webhook_backoff_max": 0.05,
}


def document(agency: dict[str, str] = FUNERAL_OFFICE, **extra: Any) -> dict[str, Any]:
    return {"agency": agency["client_id"], "procedure": agency["procedure"],
            "purpose": agency["purpose"], "url": HOOK, **extra}  # fmt: skip


class Recorder:
    """A MockTransport handler: records requests, answers 503 to the first ``fail`` ones."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(503 if len(self.requests) <= self.fail else 204)


@pytest.fixture
def wh_settings(events_settings: Settings) -> Settings:
    return events_settings.model_copy(update=FAST)


@pytest.fixture
def gw_settings(wh_settings: Settings) -> Settings:
    return wh_settings  # the conftest's app and client run over it


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# --- signature, backoff, URLs ---------------------------------------------------------------


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_signature_verifies_with_the_jwks_over_exactly_the_body(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "gateway", alg="ES256")
    body = b'{"cursor":"1","type":"death","pin":"052123497883"}'
    headers = WebhookSigner(keys).headers(body, "3f1c0d4b9a7e52c86d0e1f2a", timestamp=1_800_000_000)
    assert headers["webhook-id"] == "3f1c0d4b9a7e52c86d0e1f2a"
    assert headers["webhook-timestamp"] == "1800000000"
    signature = headers["X-JWS-Signature"]
    protected, payload, sig = signature.split(".")
    assert payload == ""  # detached
    header = jwt.get_unverified_header(signature)
    assert header == {"alg": "ES256", "kid": keys.current.kid, "b64": False, "crit": ["b64"],
                      "webhook-id": "3f1c0d4b9a7e52c86d0e1f2a",
                      "webhook-timestamp": "1800000000"}  # fmt: skip
    jwk = next(k for k in keys.jwks()["keys"] if k["kid"] == header["kid"])
    public = jwt.PyJWK(jwk).key
    decoded = jwt.api_jws.decode_complete(
        signature, public, algorithms=["ES256"], detached_payload=body
    )
    assert decoded["header"]["webhook-id"] == headers["webhook-id"]
    # The same check with cryptography alone: ECDSA over `protected.body`, exact bytes.
    raw = _b64decode(sig)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(der, protected.encode() + b"." + body, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.verify(der, protected.encode() + b"." + body + b" ", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.api_jws.decode_complete(
            signature, public, algorithms=["ES256"], detached_payload=body.replace(b"1", b"2")
        )


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff(n, 0.5, 60.0) for n in range(1, 10)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0
    ]  # fmt: skip
    assert backoff(10_000, 0.5, 60.0) == 60.0
    assert backoff(3, 0.25, 0.75) == 0.75


@pytest.mark.parametrize(
    ("url", "allowed", "ok"),
    [
        ("http://127.0.0.1:9100/hook", [], True),
        ("https://127.9.8.7/hook", [], True),
        ("http://[::1]:8080/", [], True),
        ("http://localhost:8080/x", [], True),
        ("http://LOCALHOST./x", [], True),
        ("http://10.0.0.5/hook", [], False),
        ("http://receiver.internal/hook", [], False),
        ("http://receiver.internal/hook", ["receiver.internal"], True),
        ("http://203.0.113.9/hook", ["*"], True),
        ("ftp://127.0.0.1/hook", [], False),
        ("http:///hook", [], False),
        ("http://127.0.0.1:99999/hook", [], False),
        ("http://[::1/hook", [], False),
    ],
)
def test_urls_must_be_http_and_loopback_unless_allowed(
    url: str, allowed: list[str], ok: bool
) -> None:
    assert (url_problem(url, allowed) is None) is ok


def test_loopback_hosts() -> None:
    assert host_allowed("127.0.0.1", []) and host_allowed("::1", [])
    assert not host_allowed("0.0.0.0", []) and not host_allowed("::ffff:10.0.0.1", [])


# --- the admin API -------------------------------------------------------------------------


async def test_admin_api_registers_lists_and_deletes(client: httpx.AsyncClient) -> None:
    r = await client.post("/admin/webhooks", json=document(description="deaths"), headers=AUTH)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"].startswith("wh-") and r.headers["location"].endswith(created["id"])
    assert created["source"] == "admin" and created["cursor"] == "0"
    assert created["paused"] is None and created["last_attempt"] is None
    named = await client.post("/admin/webhooks", json=document(id="named"), headers=AUTH)
    assert named.status_code == 201
    listed = (await client.get("/admin/webhooks", headers=AUTH)).json()
    assert listed["count"] == 2 and {w["id"] for w in listed["data"]} == {created["id"], "named"}
    one = await client.get("/admin/webhooks/named", headers=AUTH)
    assert one.json()["url"] == HOOK
    assert (await client.delete("/admin/webhooks/named", headers=AUTH)).status_code == 204
    assert_problem(await client.get("/admin/webhooks/named", headers=AUTH), 404,
                   "GATEWAY_WEBHOOK_NOT_FOUND", source=None)  # fmt: skip
    assert_problem(await client.delete("/admin/webhooks/named", headers=AUTH), 404,
                   "GATEWAY_WEBHOOK_NOT_FOUND", source=None)  # fmt: skip
    assert_problem(await client.get("/admin/webhooks/named/deliveries", headers=AUTH), 404,
                   "GATEWAY_WEBHOOK_NOT_FOUND", source=None)  # fmt: skip


async def test_admin_api_refusals(client: httpx.AsyncClient) -> None:
    r = await client.post("/admin/webhooks", json=document())
    assert_problem(r, 401, "GATEWAY_ADMIN_UNAUTHORIZED", source=None)
    assert_problem(await client.get("/admin/webhooks"), 401, "GATEWAY_ADMIN_UNAUTHORIZED",
                   source=None)  # fmt: skip
    # An agency without a `changes` grant for that purpose, a non-loopback host, a bad cursor.
    r = await client.post("/admin/webhooks", json=document(BANK, url="http://192.0.2.1/h",
                                                           after="7"), headers=AUTH)  # fmt: skip
    body = assert_problem(r, 422, "GATEWAY_WEBHOOK_INVALID", source=None)
    assert [(e["pointer"], e["rule"]) for e in body["errors"]] == [
        ("/purpose", "changes_grant"), ("/url", "webhook_url"), ("/after", "feed_position")
    ]  # fmt: skip
    r = await client.post("/admin/webhooks", json=document(agency={**FUNERAL_OFFICE,
                          "client_id": "nobody"}), headers=AUTH)  # fmt: skip
    assert (
        assert_problem(r, 422, "GATEWAY_WEBHOOK_INVALID", source=None)["errors"][0]["pointer"]
        == "/agency"
    )
    r = await client.post("/admin/webhooks", json=document(url="file:///etc/x"), headers=AUTH)
    assert_problem(r, 422, "GATEWAY_WEBHOOK_INVALID", source=None)
    r = await client.post("/admin/webhooks", json=document(secret="x"), headers=AUTH)
    assert_problem(r, 422, "VALIDATION_FAILED", source=None)
    assert (await client.post("/admin/webhooks", json=document(id="a"), headers=AUTH)).is_success
    r = await client.post("/admin/webhooks", json=document(id="a"), headers=AUTH)
    assert_problem(r, 409, "GATEWAY_WEBHOOK_EXISTS", source=None)


async def test_the_routes_are_documented_with_their_codes(app: FastAPI) -> None:
    doc = app.openapi()
    add = doc["paths"]["/admin/webhooks"]["post"]
    assert add["responses"]["422"]["x-error-codes"][0] == "GATEWAY_WEBHOOK_INVALID"
    assert "GATEWAY_WEBHOOK_EXISTS" in add["responses"]["409"]["x-error-codes"]
    assert add["requestBody"]["content"]["application/json"]["examples"]["funeral"]
    log = doc["paths"]["/admin/webhooks/{webhook_id}/deliveries"]["get"]
    assert "GATEWAY_WEBHOOK_NOT_FOUND" in log["responses"]["404"]["x-error-codes"]


# --- delivery (MockTransport) --------------------------------------------------------------


async def _post(client: httpx.AsyncClient, agency: dict[str, str], path: str, body: Any,
                request_id: str) -> httpx.Response:  # fmt: skip
    token = (
        await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                          auth=(agency["client_id"], agency["secret"]))
    ).json()["access_token"]  # fmt: skip
    headers = {"Authorization": f"Bearer {token}", "X-Road-Client": agency["code"],
               "X-MaYeuCau": request_id, "X-MaDVC": agency["procedure"],
               "X-MaCanBo": agency["officer"], "X-Purpose": agency["purpose"],
               "X-Legal-Basis": "Luat Ho tich 2014"}  # fmt: skip
    r = await client.post(path, json=body, headers=headers)
    assert r.status_code in (200, 201), r.text
    return r


async def test_a_retried_event_keeps_its_webhook_id_and_each_attempt_is_logged(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    recorder = Recorder(fail=2)
    app.state.webhooks.transport = httpx.MockTransport(recorder)
    async with app.router.lifespan_context(app):
        assert (
            await client.post("/admin/webhooks", json=document(id="r"), headers=AUTH)
        ).is_success
        await _post(client, DEATH_OFFICE, "/v1/registry/deaths", death(CENTENARIAN), "kt-1")
        await wait_for(lambda: len(recorder.requests) == 3)
        ids = {r.headers["webhook-id"] for r in recorder.requests}
        bodies = {r.content for r in recorder.requests}
        assert len(ids) == 1 and len(bodies) == 1
        signed = {jwt.get_unverified_header(r.headers["x-jws-signature"])["webhook-id"]
                  for r in recorder.requests}  # fmt: skip
        assert signed == ids

        async def attempts() -> list[tuple[int, int | None]]:
            log = (await client.get("/admin/webhooks/r/deliveries", headers=AUTH)).json()["data"]
            return [(a["attempt"], a["status"]) for a in log]

        for _ in range(500):
            if len(await attempts()) == 3:
                break
            await asyncio.sleep(0.01)
        assert await attempts() == [(3, 204), (2, 503), (1, 503)]
        # Nothing more to deliver: the subscriber is not called again.
        await asyncio.sleep(0.1)
        assert len(recorder.requests) == 3


async def test_an_unreachable_subscriber_is_retried_and_logged_with_the_error(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    app.state.webhooks.transport = httpx.MockTransport(refuse)
    async with app.router.lifespan_context(app):
        await client.post("/admin/webhooks", json=document(id="dead"), headers=AUTH)
        await _post(client, DEATH_OFFICE, "/v1/registry/deaths", death(CENTENARIAN), "kt-2")
        log: list[dict[str, Any]] = []
        for _ in range(500):
            log = (await client.get("/admin/webhooks/dead/deliveries", headers=AUTH)).json()["data"]
            if len(log) >= 3:
                break
            await asyncio.sleep(0.01)
        assert log[-1]["attempt"] == 1 and log[0]["attempt"] >= 3
        assert all(a["status"] is None and "ConnectError" in a["error"] for a in log)
        shown = (await client.get("/admin/webhooks/dead", headers=AUTH)).json()
        assert shown["cursor"] == "0" and shown["last_attempt"]["status"] is None


async def _drive(app: FastAPI, webhook_id: str) -> None:
    """One step of the subscription's task, run by hand (the deliverer does not lead)."""
    deliverer: WebhookDeliverer = app.state.webhooks
    sub = deliverer.store.get(webhook_id)
    assert sub is not None
    await deliverer._step(sub)


async def test_a_rewound_feed_is_followed_without_skipping_or_repeating(
    app: FastAPI, client: httpx.AsyncClient, wh_settings: Settings
) -> None:
    recorder = Recorder()
    app.state.webhooks.transport = httpx.MockTransport(recorder)
    other = WebhookStore(wh_settings.data_dir / "webhooks.db")
    assert other.try_lead()  # another process delivers: this one's tasks never start
    events = app.state.gateway.registry.events.store
    try:
        async with app.router.lifespan_context(app):
            await client.post("/admin/webhooks", json=document(id="w"), headers=AUTH)
            await _post(client, BIRTH_OFFICE, "/v1/registry/births", birth(given="An"), "ks-a")
            await _drive(app, "w")
            saved = events.dump_events()  # the registry's state after A
            await _post(client, BIRTH_OFFICE, "/v1/registry/births", birth(given="Ba"), "ks-b")
            await _drive(app, "w")
            assert len(recorder.requests) == 2
            # Back to the state after A; a new event C takes cursor 2 (B's): C is delivered,
            # A (still in the feed, already delivered) is not repeated.
            events.load_events(saved)
            await _post(client, BIRTH_OFFICE, "/v1/registry/births", birth(given="Cu"), "ks-c")
            await _drive(app, "w")  # notices the rewind: back to cursor 1
            await _drive(app, "w")
            sent = [orjson.loads(r.content) for r in recorder.requests]
            assert [(i["cursor"], i["changes"]["name"]["given"]) for i in sent] == [
                ("1", "An"), ("2", "Ba"), ("2", "Cu")
            ]  # fmt: skip
            # Everything rolled back (a test reset), then the same request again: the same
            # event id at the same cursor, but a new commit: delivered again.
            events.load_events(None)
            await _drive(app, "w")  # the cursor is past the newest: back to 0
            shown = (await client.get("/admin/webhooks/w", headers=AUTH)).json()
            assert shown["cursor"] == "0"
            await _post(client, BIRTH_OFFICE, "/v1/registry/births", birth(given="An"), "ks-a")
            await _drive(app, "w")
            again = orjson.loads(recorder.requests[-1].content)
            assert again["event_id"] == sent[0]["event_id"] and again["time"] != sent[0]["time"]
            assert len(recorder.requests) == 4
            # Rewound between two polls to a feed whose item 1 is another commit of the same id.
            events.load_events(None)
            await _post(client, BIRTH_OFFICE, "/v1/registry/births", birth(given="An"), "ks-a")
            await _drive(app, "w")
            await _drive(app, "w")
            assert len(recorder.requests) == 5
            assert recorder.requests[-1].headers["webhook-id"] == sent[0]["event_id"]
    finally:
        other.release()


async def test_a_subscription_without_its_grant_is_paused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await client.post("/admin/webhooks", json=document(SOCIAL_SECURITY, id="s"), headers=AUTH)
    directory = app.state.gateway.agencies
    with directory._lock:  # the agency goes (as a test reset of added agencies would do)
        agency = directory._by_client.pop(SOCIAL_SECURITY["client_id"])
    try:
        shown = (await client.get("/admin/webhooks/s", headers=AUTH)).json()
        assert "no agency" in shown["paused"]
    finally:
        directory._by_client[SOCIAL_SECURITY["client_id"]] = agency


# --- the webhooks file, resets, one deliverer per data directory ---------------------------


def _webhooks_file(tmp_path: Path, *items: dict[str, Any]) -> Path:
    path = tmp_path / "webhooks.yaml"
    path.write_text(yaml.safe_dump({"webhooks": list(items)}), "utf-8")
    return path


async def test_the_webhooks_file_is_loaded_and_checked(
    wh_settings: Settings, tmp_path: Path
) -> None:
    path = _webhooks_file(
        tmp_path,
        document(id="funeral-file", description="from the file"),
        document(SOCIAL_SECURITY, id="bhxh", url="http://hooks.test/bhxh"),
    )
    with pytest.raises(ValueError, match="hooks.test"):
        create_app(wh_settings.model_copy(update={"gateway_webhooks_file": path}))
    settings = wh_settings.model_copy(
        update={"gateway_webhooks_file": path, "gateway_webhook_hosts": ["hooks.test"]}
    )
    application = create_app(settings)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        listed = (await client.get("/admin/webhooks", headers=AUTH)).json()["data"]
        assert [(w["id"], w["source"], w["cursor"]) for w in listed] == [
            ("bhxh", "config", None), ("funeral-file", "config", None)
        ]  # fmt: skip
    await application.state.gateway.registry.aclose()
    application.state.audit.close()
    for bad in (document(), document(BANK, id="x")):  # no id; no changes grant
        with pytest.raises(ValueError, match="webhook"):
            create_app(wh_settings.model_copy(
                update={"gateway_webhooks_file": _webhooks_file(tmp_path, bad)}
            ))  # fmt: skip


async def test_a_reset_brings_back_the_subscriptions_and_their_cursors(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/admin/webhooks", json=document(id="kept"), headers=AUTH)
    snap = await client.post("/__sim06/snapshot", json={"parts": ["gateway.webhooks"]},
                             headers=AUTH)  # fmt: skip
    assert snap.status_code == 200, snap.text
    await client.delete("/admin/webhooks/kept", headers=AUTH)
    await client.post("/admin/webhooks", json=document(id="added"), headers=AUTH)
    r = await client.post("/__sim06/reset", json={"parts": ["gateway.webhooks"]}, headers=AUTH)
    assert r.status_code == 200, r.text
    listed = (await client.get("/admin/webhooks", headers=AUTH)).json()["data"]
    assert [(w["id"], w["cursor"]) for w in listed] == [("kept", "0")]
    r = await client.post("/__sim06/reset", json={"parts": ["gateway.webhooks"], "to": "startup"},
                          headers=AUTH)  # fmt: skip
    assert r.status_code == 200, r.text
    assert (await client.get("/admin/webhooks", headers=AUTH)).json()["count"] == 0


def test_one_process_delivers_per_data_directory(tmp_path: Path) -> None:
    first, second = WebhookStore(tmp_path / "w.db"), WebhookStore(tmp_path / "w.db")
    assert first.try_lead() and first.try_lead()
    assert not second.try_lead()
    first.release()
    assert second.try_lead()
    second.release()


async def test_delivery_over_the_http_registry_client(wh_settings: Settings) -> None:
    registry = create_registry(wh_settings)
    upstream = HttpRegistryClient(
        "http://registry",
        transport=httpx.ASGITransport(app=registry),
        write_token=write_token(wh_settings),
    )
    application = create_app(wh_settings, registry=upstream)
    recorder = Recorder()
    application.state.webhooks.transport = httpx.MockTransport(recorder)
    transport = httpx.ASGITransport(app=application)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        await client.post("/admin/webhooks", json=document(id="h"), headers=AUTH)
        await _post(client, BIRTH_OFFICE, "/v1/registry/births", birth(given="An"), "ks-h1")
        await wait_for(lambda: len(recorder.requests) == 1)

        async def cursor() -> str | None:
            shown = (await client.get("/admin/webhooks/h", headers=AUTH)).json()
            value: str | None = shown["cursor"]
            return value

        for _ in range(500):
            if await cursor() == "1":
                break
            await asyncio.sleep(0.01)
        registry.state.event_store.load_events(None)  # the registry's events reset
        for _ in range(500):  # cursor 1 is past the newest (0): a problem over HTTP
            if await cursor() == "0":
                break
            await asyncio.sleep(0.01)
        assert await cursor() == "0"
        await _post(client, BIRTH_OFFICE, "/v1/registry/births", birth(given="Ba"), "ks-h2")
        await wait_for(lambda: len(recorder.requests) == 2)
        assert orjson.loads(recorder.requests[1].content)["cursor"] == "1"
    registry.state.store.close()


def test_the_example_webhooks_file_fits_the_demo_agencies() -> None:
    root = Path(__file__).resolve().parents[3]
    directory = AgencyDirectory(load_agencies(root / "examples" / "agencies.yaml"))
    specs = load_webhooks(root / "examples" / "webhooks.yaml", directory, [])
    assert [s.agency for s in specs] == ["bhxh-cap-the", "mai-tang-ba-dinh"]
