"""The webhook deliverer: each subscription follows the change feed and POSTs its items.

One asyncio task per subscription (started in the gateway's lifespan, cancelled at shutdown)
reads ``registry.changes(after=cursor)``, POSTs each item in order and moves its cursor only
after a 2xx; a failure is retried after ``backoff`` (0.5 s, 1, 2, 4 … at most 60 s by default)
until it succeeds, holding back that subscription only. Nothing of this runs on a request's
path: a slow or dead subscriber never slows the writers. Delivery is at least once: receivers
deduplicate on ``webhook-id`` (the feed's ``event_id``, the same on every retry).

Each request carries ``content-type: application/json``, ``webhook-id``, ``webhook-timestamp``
(Unix seconds of this attempt) and ``X-JWS-Signature``: a JWS with a detached, unencoded payload
(RFC 7515 Appendix F, RFC 7797 ``"b64": false``) signed with the gateway's key (ES256, ``kid`` in
the protected header: verify with ``/.well-known/jwks.json``). The signing input is
``protected`` + ``.`` + the body bytes exactly as sent; the protected header also carries
``webhook-id`` and ``webhook-timestamp`` (the two header values, as strings), so the signature
binds them: a receiver checks both equal the headers and rejects old timestamps.

Every attempt is logged (:meth:`WebhookStore.log`); every delivered item is also an audit
record (operation ``changes``, the item's PINs) as a pull of the feed would be, so the citizen's
access log shows who received their data. One process per data directory delivers (a lock
file); the others take over if it stops.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any

import httpx
import jwt
import orjson

from sim06.services.common.keys import KeyStore
from sim06.services.common.problems import ProblemError
from sim06.services.common.settings import Settings
from sim06.services.gateway.exchange import Context, Gateway
from sim06.services.gateway.policy import Grant
from sim06.services.gateway.signing import request_hash
from sim06.services.gateway.webhooks import (
    Subscription,
    WebhookStore,
    grant_problem,
    now_text,
    url_problem,
)

log = logging.getLogger("sim06.gateway.webhooks")

BATCH = 100  # feed items read per poll
SYNC_SECONDS = 1.0  # the delivering process re-reads the subscription list this often
LEAD_SECONDS = 2.0  # another process retries the lock this often
SIGNATURE_HEADER = "X-JWS-Signature"
_FAR_FUTURE = "9999-12-31T00:00:00+00:00"  # since= this: an empty page whose cursor is the head
# What the registry answers for a cursor past its newest change (the feed was rewound).
_AHEAD = frozenset({"FEED_CURSOR_AHEAD", "FEED_INVALID_CURSOR"})


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): base, 2 base, 4 base … cap."""
    return float(min(cap, base * 2 ** min(attempt - 1, 60)))


def item_key(item: dict[str, Any]) -> str:
    """What tells one commit from another: its event id and commit time (event ids derive
    from the request id, so a test that repeats a request after a reset repeats the id)."""
    return f"{item['event_id']}@{item['time']}"


class WebhookSigner:
    """Detached JWS over delivery bodies, with the gateway's current key (PyJWT)."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def sign(self, body: bytes, webhook_id: str, timestamp: str) -> str:
        key = self.keys.current
        header = {"kid": key.kid, "typ": None, "webhook-id": webhook_id,
                  "webhook-timestamp": timestamp}  # fmt: skip
        return jwt.api_jws.encode(
            body, key.private_key, algorithm=key.alg, headers=header, is_payload_detached=True
        )

    def headers(self, body: bytes, webhook_id: str, timestamp: int | None = None) -> dict[str, str]:
        """The headers of one attempt."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": ts,
            SIGNATURE_HEADER: self.sign(body, webhook_id, ts),
        }


class WebhookDeliverer:
    """The delivery tasks of one gateway (see the module docstring)."""

    def __init__(
        self,
        store: WebhookStore,
        gateway: Gateway,
        signer: WebhookSigner,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store = store
        self.gateway = gateway
        self.signer = signer
        self.settings = settings
        self.transport = transport
        self.leading = False
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ---

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._client = httpx.AsyncClient(
            timeout=self.settings.gateway_webhook_timeout,
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: straight to the subscriber
            transport=self.transport,
            headers={"user-agent": "sim06-gateway-webhooks/1.0"},
        )
        self._supervisor = asyncio.create_task(self._supervise(), name="sim06-webhooks")

    async def stop(self) -> None:
        tasks = [*self._tasks.values(), *([self._supervisor] if self._supervisor else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._supervisor = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._loop = None
        self.leading = False
        self.store.release()

    async def _supervise(self) -> None:
        while True:
            try:
                if not self.leading:
                    self.leading = self.store.try_lead()
                self.sync()
            except Exception:  # a locked or broken file: log it, try again later
                log.exception("webhook deliverer: cannot read the subscriptions")
            await asyncio.sleep(SYNC_SECONDS if self.leading else LEAD_SECONDS)

    def sync(self) -> None:
        """One task per stored subscription (new ones started, deleted ones stopped)."""
        loop = self._loop
        if loop is None or not self.leading:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:  # called from another thread (a test reset): hand it over
            loop.call_soon_threadsafe(self.sync)
            return
        ids = {s.id for s in self.store.all()}
        for webhook_id in list(self._tasks):
            if webhook_id not in ids or self._tasks[webhook_id].done():
                self._tasks.pop(webhook_id).cancel()
        for webhook_id in sorted(ids - set(self._tasks)):
            self._tasks[webhook_id] = loop.create_task(
                self._follow(webhook_id), name=f"sim06-webhook-{webhook_id}"
            )

    # --- one subscription ---

    def paused(self, sub: Subscription) -> str | None:
        """Why ``sub`` is not delivered now (grant revoked, host not allowed), or None."""
        problem = grant_problem(self.gateway.agencies, sub.agency, sub.procedure, sub.purpose)
        if problem is not None:
            return problem[1]
        return url_problem(sub.url, self.settings.gateway_webhook_hosts)

    async def _follow(self, webhook_id: str) -> None:
        idle = self.settings.gateway_webhook_poll_interval
        while True:
            try:
                sub = self.store.get(webhook_id)
                if sub is None:
                    return
                busy = await self._step(sub)
            except ProblemError as exc:  # the registry is unreachable: try again later
                log.warning("webhook %s: cannot read the feed: %s", webhook_id, exc)
                busy = False
            except Exception:
                log.exception("webhook %s: delivery failed", webhook_id)
                busy = False
            if not busy:
                await asyncio.sleep(idle)

    async def _step(self, sub: Subscription) -> bool:
        """Deliver what is pending; False when there was nothing to do."""
        if self.paused(sub) is not None:
            return False
        agency = self.gateway.agencies.by_client(sub.agency)
        assert agency is not None
        grant = agency.grants[(sub.procedure, sub.purpose, "changes")]
        items = await self._pending(sub)
        for item in items:
            if not await self._deliver(sub, grant, item):
                break
        return bool(items)

    async def _pending(self, sub: Subscription) -> list[dict[str, Any]]:
        """The items after the cursor; [] after starting or resynchronising the cursor."""
        if sub.cursor is None:
            head = await self.head()
            start = head if sub.after is None else min(sub.after, head)
            self.store.move(sub.id, None, start, await self.key_at(start))
            return []
        cursor = sub.cursor
        try:  # read from the item at the cursor: is it still the one delivered?
            page = await self.gateway.registry.changes(
                str(max(cursor - 1, 0)), None, BATCH + (cursor > 0)
            )
            items: list[dict[str, Any]] = orjson.loads(page)["items"]
        except ProblemError as exc:
            if exc.spec.code not in _AHEAD:
                raise
            items = []  # the cursor is past the newest: the feed was rewound
        if cursor == 0:
            return items
        if not items or (sub.cursor_event is not None and item_key(items[0]) != sub.cursor_event):
            await self._resync(sub, cursor)
            return []
        return items[1:]

    async def _resync(self, sub: Subscription, cursor: int) -> None:
        """The feed was rewound (a test reset): resume after the last item this subscription
        delivered that is still in the feed (a binary search of the log), else from the start.
        At least once: nothing new is skipped; what was delivered may come again."""
        head = await self.head()
        low, high = 0, min(cursor, head)
        while low < high:
            mid = (low + high + 1) // 2
            delivered = self.store.delivered(sub.id, mid)
            if delivered is not None and delivered == await self.key_at(mid):
                low = mid
            else:
                high = mid - 1
        log.warning("webhook %s: the feed was rewound (cursor %d, newest %d); resuming after %d",
                    sub.id, cursor, head, low)  # fmt: skip
        self.store.move(sub.id, cursor, low, await self.key_at(low))

    async def head(self) -> int:
        """The newest cursor of the feed."""
        page = await self.gateway.registry.changes(None, _FAR_FUTURE, 1)
        return int(orjson.loads(page)["next_cursor"])

    async def key_at(self, cursor: int) -> str | None:
        """:func:`item_key` of the item at ``cursor`` (None for 0 or past the newest)."""
        if cursor <= 0:
            return None
        try:
            page = await self.gateway.registry.changes(str(cursor - 1), None, 1)
        except ProblemError as exc:
            if exc.spec.code not in _AHEAD:
                raise
            return None
        items = orjson.loads(page)["items"]
        return item_key(items[0]) if items else None

    async def _deliver(self, sub: Subscription, grant: Grant, item: dict[str, Any]) -> bool:
        """POST ``item`` until a 2xx; False if the subscription changed meanwhile (deleted,
        reset, paused): the caller reads it again."""
        cursor, event_id = int(item["cursor"]), str(item["event_id"])
        filtered = grant.filter_change(item)
        body = orjson.dumps(filtered)
        attempt = 0
        while True:
            attempt += 1
            current = self.store.get(sub.id)
            if current is None or current.cursor != cursor - 1 or self.paused(current):
                return False
            started = now_text()
            status, error, latency = await self._post(current.url, event_id, body)
            delivered = status is not None and 200 <= status < 300
            record = {
                "subscription": sub.id, "cursor": cursor, "event_id": event_id,
                "event_time": item["time"], "attempt": attempt, "status": status,
                "error": error, "latency_ms": latency, "time": started,
            }  # fmt: skip
            moved = self.store.log(record, delivered)
            if delivered:
                assert status is not None
                await self._audit(current, grant, filtered, body, status, latency)
                return moved
            await asyncio.sleep(
                backoff(attempt, self.settings.gateway_webhook_backoff,
                        self.settings.gateway_webhook_backoff_max)
            )  # fmt: skip

    async def _post(
        self, url: str, event_id: str, body: bytes
    ) -> tuple[int | None, str | None, float]:
        assert self._client is not None
        headers = self.signer.headers(body, event_id)
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            response = await self._client.post(url, content=body, headers=headers)
            status = response.status_code
        except httpx.TimeoutException:
            error = f"timeout after {self.settings.gateway_webhook_timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        return status, error, round((time.perf_counter() - started) * 1000, 3)

    async def _audit(
        self,
        sub: Subscription,
        grant: Grant,
        filtered: dict[str, Any],
        body: bytes,
        status: int,
        latency_ms: float,
    ) -> None:
        """The audit record of a delivered item: what a pull of the feed records."""
        agency = self.gateway.agencies.by_client(sub.agency)
        pins = [filtered["pin"], *(r["pin"] for r in filtered["related"])]
        ctx = Context(
            client=agency.code if agency else "",
            request_id=f"webhook:{sub.id}:{filtered['cursor']}",
            procedure=sub.procedure,
            purpose=sub.purpose,
            legal_basis=sub.legal_basis,
            agency=agency,
            started=time.perf_counter() - latency_ms / 1000,
        )
        await self.gateway.record(
            ctx,
            "changes",
            pins=list(dict.fromkeys(pins)),
            status=status,
            outcome="ok",
            fields=grant.returned({"items": [filtered]}),
            request_hash=request_hash("POST", sub.url, str(filtered["event_id"]), body),
            response_hash=hashlib.sha256(body).hexdigest(),
        )
