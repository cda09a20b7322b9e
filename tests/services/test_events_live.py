"""End to end on 127.0.0.1: births through a live gateway under load, and ``kill -9`` mid-stream.

1. 1,000 births posted concurrently (64 connections) through a live gateway (a uvicorn
   subprocess; its in-process registry writes a private copy of the seeded file): 1,000
   distinct, valid PINs that no seeded citizen holds, each found by a lookup right away; the
   feed lists exactly those births, in commit order, with no gap, and resumes from any cursor.
   A request id posted twice (concurrently) answers the same PIN and makes one record.
2. ``sim06 up`` killed with SIGKILL during a stream of births on several connections, then
   restarted on the same data directory: every birth answered 2xx is there, the feed has no gap
   and holds at least those births, and a retry of an answered request replays its answer.

The benchmark agency of these tests (``register-birth``, ``lookup`` and ``changes``, a quota the
runs cannot exhaust) is written to a temporary agencies file; its secret is a throwaway.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from sim06.mock_registry.ids import Sex, parse_pin
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.bench import FlowClient, FlowError, Response, free_port, start_uvicorn

pytestmark = pytest.mark.e2e
LOG = logging.getLogger(__name__)

SIM06 = str(Path(sys.executable).parent / "sim06")
BIRTHS = 1000
CONCURRENCY = 64
BA_DINH = "00004"  # Phường Ba Đình, Hà Nội: PINs of births registered there start with 001
CODE, CLIENT_ID, PROCEDURE, OFFICER = "000.21.77.H26", "live-births", "LIVE.KS.1", "CB.LIVE"
AGENCY: dict[str, Any] = {
    "code": CODE, "name": "Live births test office", "client_id": CLIENT_ID,
    "quota_per_minute": 1_000_000,
    "procedures": [{"code": PROCEDURE, "purposes": {"birth-registration": {
        "grants": {"register-birth": "*", "lookup": "*", "changes": "*"}}}}],
    "officers": [{"code": OFFICER, "permissions": [PROCEDURE]}],
}  # fmt: skip


def _agencies_file(directory: Path) -> tuple[Path, str]:
    secret = secrets.token_urlsafe(24)
    path = directory / "agencies.yaml"
    path.write_text(yaml.safe_dump({"agencies": [{**AGENCY, "client_secret": secret}]}), "utf-8")
    return path, secret


def _records(path: Path) -> list[dict[str, Any]]:
    store = SQLiteCitizenStore(path, readonly=True)
    try:
        return [orjson.loads(raw) for raw in store.records()]
    finally:
        store.close()


def _mothers(records: list[dict[str, Any]], as_of: date = date(2026, 7, 1)) -> list[str]:
    """Women aged 18-45 who are alive (and whose date of birth is known)."""
    found = []
    for r in records:
        if r["sex"] != "female" or r["status"] != "alive" or r["date_of_birth"] is None:
            continue
        born = date.fromisoformat(r["date_of_birth"])
        age = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
        if 18 <= age <= 45:
            found.append(r["pin"])
    assert len(found) >= 100, len(found)
    return found


def _sex(i: int) -> Sex:
    return "female" if i % 2 else "male"


def _birth(i: int, mother: str) -> dict[str, Any]:
    """Child ``i``: a given name no other ``i`` has, so no birth is a duplicate of another."""
    return {
        "child": {
            "name": {"family": "Nguyễn", "middle": "Minh", "given": f"Live{i}"},
            "sex": _sex(i),
            "date_of_birth": (date(2026, 1, 1) + timedelta(days=i % 150)).isoformat(),
            "place_of_birth": "Bệnh viện Phụ sản Hà Nội",
        },
        "mother_pin": mother,
        "registration_commune_code": BA_DINH,
    }


def _check_pin(pin: str, sex: Sex) -> None:
    parsed = parse_pin(pin, sex=sex, birth_year=2026)  # raises when any rule is broken
    assert parsed.province_code == "001", pin
    assert parsed.century_sex_digit == (3 if sex == "female" else 2), pin
    assert pin[4:6] == "26" and parsed.birth_year == 2026 and parsed.sex == sex, pin


def _token(client: httpx.Client, secret: str) -> str:
    r = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, secret)
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def _headers(token: str, request_id: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}", "X-Road-Client": CODE, "X-MaYeuCau": request_id,
        "X-MaDVC": PROCEDURE, "X-MaCanBo": OFFICER, "X-Purpose": "birth-registration",
        "X-Legal-Basis": "Luat Ho tich 2014",
    }  # fmt: skip


def _feed(client: httpx.Client, token: str, after: int) -> dict[str, Any]:
    r = client.get(
        f"/v1/registry/changes?after={after}&limit=1000",
        headers=_headers(token, f"feed-{secrets.token_hex(8)}"),
    )
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


# -- 1. 1,000 concurrent births through a live gateway -----------------------------------------


Answer = tuple[int, Response, Response]  # (child i, the birth's answer, the lookup's)


async def _thousand_births(port: int, token: str, mothers: list[str]) -> list[Answer]:
    """1,000 births on 64 keep-alive connections (the project's FlowClient: one connection per
    worker, far cheaper than httpx at this concurrency), each followed by a lookup of the PIN.

    Every hundredth request id is also sent a second time, by the next worker, while the first
    is still in flight."""
    twice = set(range(0, BIRTHS, 100))
    jobs = iter([(i, copy) for i in range(BIRTHS) for copy in ((0, 1) if i in twice else (0,))])
    answers: list[Answer] = []

    async def worker() -> None:
        client = FlowClient("127.0.0.1", port, timeout=60)
        try:
            for i, copy in jobs:
                request_id = f"ks-{i:04d}"
                body = orjson.dumps(_birth(i, mothers[i % len(mothers)]))
                headers = {**_headers(token, request_id), "Content-Type": "application/json"}
                r = await client.request("POST", "/v1/registry/births", headers=headers, body=body)
                if r.status not in (200, 201):
                    answers.append((i, r, r))
                    continue
                # Found right away: the answer came after the commit.
                pin = orjson.loads(r.body)["pin"]
                headers = _headers(token, f"lk-{request_id}-{copy}")
                found = await client.request("GET", f"/v1/registry/citizens/{pin}", headers=headers)
                answers.append((i, r, found))
        finally:
            await client.aclose()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return answers


def test_a_thousand_concurrent_births_through_the_gateway(events_db: Path, tmp_path: Path) -> None:
    seeded = _records(events_db)
    seeded_pins = {r["pin"] for r in seeded}
    mothers = _mothers(seeded)
    agencies, secret = _agencies_file(tmp_path)
    env = {
        "SIM06_DB_PATH": str(events_db), "SIM06_DATA_DIR": str(tmp_path / "gateway"),
        "SIM06_GATEWAY_AGENCIES_FILE": str(agencies),
        "SIM06_GATEWAY_ADMIN_TOKEN": secrets.token_urlsafe(24),
    }  # fmt: skip
    with start_uvicorn(
        "sim06.services.asgi:gateway", factory=True, env=env, health_path="/healthz"
    ) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            token = _token(client, secret)
            started = time.perf_counter()
            answers = asyncio.run(_thousand_births(server.port, token, mothers))
            elapsed = time.perf_counter() - started
            feed = _feed(client, token, 0)
            resumed = {after: _feed(client, token, after) for after in (1, 137, 500, 999, 1000)}

    statuses = sorted(r.status for _, r, _ in answers)
    # Each request id once 201; its second copy 200 (the first answer, replayed).
    assert statuses.count(201) == BIRTHS, [r.body for _, r, _ in answers if r.status > 201]
    assert statuses.count(200) == BIRTHS // 100
    first = {i: orjson.loads(r.body) for i, r, _ in answers if r.status == 201}
    for i, r, _ in answers:
        if r.status == 200:
            assert r.headers["idempotent-replayed"] == "true"
            assert orjson.loads(r.body) == first[i]  # the same PIN, cursor and event id
    pins = {i: answer["pin"] for i, answer in first.items()}
    assert len(set(pins.values())) == BIRTHS  # 1,000 distinct PINs
    assert not set(pins.values()) & seeded_pins  # none a seeded citizen's
    for i, pin in pins.items():
        _check_pin(pin, _sex(i))
    for i, _, found in answers:
        assert found.status == 200, found.body
        record = orjson.loads(found.body)
        assert record["pin"] == pins[i] and record["name"]["given"] == f"Live{i}"
        assert record["mother"]["pin"] == mothers[i % len(mothers)]

    # The feed from the start: exactly these births, in commit order, cursors 1..1000.
    by_cursor = {int(answer["cursor"]): answer["pin"] for answer in first.values()}
    assert sorted(by_cursor) == list(range(1, BIRTHS + 1))
    items = feed["items"]
    assert [int(item["cursor"]) for item in items] == list(range(1, BIRTHS + 1))
    assert [item["pin"] for item in items] == [by_cursor[c] for c in range(1, BIRTHS + 1)]
    assert {item["type"] for item in items} == {"birth"}
    assert feed["next_cursor"] == str(BIRTHS)
    # ... and it resumes from any cursor.
    for after, page in resumed.items():
        assert page["items"] == items[after:], after
        assert page["next_cursor"] == str(BIRTHS)
    LOG.info("1,000 births (+%d replays), each with a lookup, in %.2f s", BIRTHS // 100, elapsed)


# -- 2. kill -9 of `sim06 up` during a stream of births -------------------------------------


PORT_VARIABLES = (
    "SIM06_GATEWAY_PORT", "SIM06_REGISTRY_PORT", "SIM06_IDENTITY_PORT", "SIM06_PROCEDURES_PORT",
    "SIM06_ADMIN_PORT", "SIM06_GATEWAY_TLS_PORT",
)  # fmt: skip
STREAMS = 8
KILL_AFTER = 300  # births answered before the kill


class Up:
    """``sim06 up`` as a subprocess with an explicit environment (the tests strip SIM06_*)."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path, secret: str) -> None:
        self.env, self.cwd, self.log, self.secret = env, cwd, log, secret
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.env['SIM06_GATEWAY_PORT']}"

    @property
    def registry(self) -> str:
        return f"http://127.0.0.1:{self.env['SIM06_REGISTRY_PORT']}"

    def start(self, timeout: float = 180.0) -> float:
        """Start and wait until the gateway and the registry answer; the seconds it took."""
        started = time.perf_counter()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [SIM06, "up"], env=self.env, cwd=self.cwd, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        for url in (self.registry, self.gateway):
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"sim06 up exited:\n{self.log.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"sim06 up not up:\n{self.log.read_text()[-3000:]}")
                time.sleep(0.1)
        return time.perf_counter() - started

    def kill(self) -> int:
        """SIGKILL the process (this test's own, by its pid) and reap it."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    agencies, secret = _agencies_file(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIM06_")}
    env.update({name: str(free_port()) for name in PORT_VARIABLES})
    env.update({
        "SIM06_DATA_DIR": str(tmp_path / "data"), "SIM06_POPULATION_SIZE": "2000",
        "SIM06_GATEWAY_AGENCIES_FILE": str(agencies),
        "SIM06_GATEWAY_ADMIN_TOKEN": secrets.token_urlsafe(24), "SIM06_HOST": "127.0.0.1",
    })  # fmt: skip
    server = Up(env, tmp_path, tmp_path / "sim06-up.log", secret)
    try:
        yield server
    finally:
        server.stop()


async def _stream_then_kill(
    up: Up, token: str, mothers: list[str]
) -> tuple[list[tuple[int, dict[str, Any]]], int, int]:
    """Births on STREAMS keep-alive connections; SIGKILL once KILL_AFTER were answered.

    Returns the answered births ``(i, answer)``, the number sent without an answer, and the
    exit status of the killed process."""
    answered: list[tuple[int, dict[str, Any]]] = []
    unanswered = 0
    counter = iter(range(1_000_000))
    killed = asyncio.Event()
    port = int(up.env["SIM06_GATEWAY_PORT"])

    async def stream() -> None:
        nonlocal unanswered
        client = FlowClient("127.0.0.1", port, timeout=10)
        try:
            for i in counter:
                body = orjson.dumps(_birth(i, mothers[i % len(mothers)]))
                headers = {**_headers(token, f"ks-{i:05d}"), "Content-Type": "application/json"}
                try:
                    r = await client.request(
                        "POST", "/v1/registry/births", headers=headers, body=body
                    )
                except FlowError:  # reset, connect or timeout: the server is gone
                    unanswered += 1
                    return
                assert r.status == 201, r.body
                answered.append((i, orjson.loads(r.body)))
                if len(answered) >= KILL_AFTER:
                    killed.set()
        finally:
            await client.aclose()

    streams = [asyncio.create_task(stream()) for _ in range(STREAMS)]
    await killed.wait()
    status = await asyncio.to_thread(up.kill)  # births are still being sent meanwhile
    await asyncio.gather(*streams)
    return answered, unanswered, status


def test_kill_9_during_births_loses_no_answered_birth_and_leaves_no_gap(up: Up) -> None:
    first_start = up.start()
    data = Path(up.env["SIM06_DATA_DIR"])
    mothers = _mothers(_records(data / "population.db"))
    with httpx.Client(base_url=up.gateway, timeout=30) as client:
        token = _token(client, up.secret)
    answered, unanswered, status = asyncio.run(_stream_then_kill(up, token, mothers))
    assert status == -signal.SIGKILL
    assert len(answered) >= KILL_AFTER and unanswered >= 1  # the kill came mid-stream
    restart = up.start()

    with httpx.Client(base_url=up.registry, timeout=30) as registry:
        for i, answer in answered:  # every birth answered 2xx survived the kill
            r = registry.get(f"/v1/citizens/{answer['pin']}")
            assert r.status_code == 200, (i, answer, r.text)
            assert r.json()["name"]["given"] == f"Live{i}"
        feed: list[dict[str, Any]] = []
        while True:
            page = registry.get(f"/v1/changes?after={len(feed)}&limit=1000").json()
            feed += page["items"]
            if not page["items"]:
                break
    head = len(feed)
    assert [int(item["cursor"]) for item in feed] == list(range(1, head + 1))  # no gap
    assert head >= len(answered)
    at = {int(answer["cursor"]): answer["pin"] for _, answer in answered}
    assert all(feed[c - 1]["pin"] == pin for c, pin in at.items())
    # Births in flight at the kill may or may not be there; nothing else is.
    assert head <= len(answered) + unanswered
    assert {item["type"] for item in feed} == {"birth"}

    # The idempotency answers survived too: a retry replays the first answer.
    i, answer = answered[0]
    with httpx.Client(base_url=up.gateway, timeout=30) as client:
        token = _token(client, up.secret)  # a new token: the old one may have outlived its key
        r = client.post(
            "/v1/registry/births", json=_birth(i, mothers[i % len(mothers)]),
            headers=_headers(token, f"ks-{i:05d}"),
        )  # fmt: skip
    assert r.status_code == 200 and r.json() == answer, r.text
    LOG.info(
        "sim06 up: first start %.1f s, restart %.1f s; %d births answered, %d sent unanswered "
        "at the kill, feed head %d", first_start, restart, len(answered), unanswered, head,
    )  # fmt: skip
