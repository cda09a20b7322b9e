"""Two gateway processes on one Redis and one PostgreSQL behave as one gateway (issue 8).

End to end: ``uvicorn --factory services.asgi:gateway`` twice with ``SIM06_REDIS_URL`` and
``SIM06_DATABASE_URL`` (a throwaway database seeded with 300 citizens). Requests alternate
between the replicas. Shows: a quota of N per minute admits exactly N across both (the rest are
429 with Retry-After); a request id or a client-assertion ``jti`` used at one replica is refused
at the other; the audit chain in PostgreSQL verifies, with one record per exchange from both.
Needs ``SIM06_TEST_REDIS_URL`` and ``SIM06_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from sim06.services.audit.commands import audit_verify
from sim06.services.audit.postgres import verify_postgres
from sim06.services.bench.servers import ServerProcess, start_uvicorn
from sim06.services.common.admission_http import PROTOCOL
from sim06.services.common.settings import Settings
from tests.backends import POSTGRES_URL, REDIS_URL, needs_postgres, needs_redis
from tests.mock_registry.store.conftest import throwaway_database
from tests.services.gateway.helpers import ADMIN
from tests.services.gateway.replica_agencies import (
    QUOTA,
    QUOTA_PER_MINUTE,
    assertion,
    assertion_form,
    clear_redis,
    lookup_headers,
    redis_prefix,
    write_agencies,
)

pytestmark = [
    pytest.mark.e2e,
    needs_postgres,
    needs_redis,
]


@dataclass
class Replicas:
    a: ServerProcess
    b: ServerProcess
    database_url: str
    key: ec.EllipticCurvePrivateKey
    data_dir: Path  # keys and signed audit tree heads, shared by both


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    from sim06.mock_registry.store.postgres import seed_postgres

    assert POSTGRES_URL is not None and REDIS_URL is not None
    tmp = tmp_path_factory.mktemp("replicas")
    key = ec.generate_private_key(ec.SECP256R1())
    prefix = redis_prefix()
    with throwaway_database(POSTGRES_URL) as url:
        assert seed_postgres(url, seed=6, size=300, as_of=date(2026, 7, 1)) is not None
        env = {
            "SIM06_DATABASE_URL": url,
            "SIM06_REDIS_URL": REDIS_URL,
            "SIM06_REDIS_PREFIX": prefix,
            "SIM06_DATA_DIR": str(tmp / "data"),  # one signing key for both
            "SIM06_GATEWAY_AGENCIES_FILE": str(write_agencies(tmp / "agencies.json", key)),
            "SIM06_GATEWAY_ADMIN_TOKEN": ADMIN,
        }
        # One after the other: the first creates the keys the second then reads.
        # The admission protocol, as `sim06 replicas` serves them: lookups take its lane.
        a = start_uvicorn(
            "sim06.services.asgi:gateway", factory=True, env=env, health_path="/healthz",
            http_protocol=PROTOCOL,
        )  # fmt: skip
        try:
            b = start_uvicorn(
                "sim06.services.asgi:gateway", factory=True, env=env, health_path="/healthz",
                http_protocol=PROTOCOL,
            )  # fmt: skip
            try:
                yield Replicas(a, b, url, key, tmp / "data")
            finally:
                b.stop()
        finally:
            a.stop()
            clear_redis(REDIS_URL, prefix)


def a_pin(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pin FROM citizens ORDER BY pin LIMIT 1").fetchone()
    assert row is not None
    return f"{row[0]:012d}"


def token(server: ServerProcess) -> str:
    r = httpx.post(
        server.url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(QUOTA["client_id"], QUOTA["secret"]),
    )
    assert r.status_code == 200, r.text
    value: str = r.json()["access_token"]
    return value


def audited_request_ids(url: str) -> Counter[str]:
    with psycopg.connect(url) as conn:
        return Counter(r[0] for r in conn.execute("SELECT request_id FROM audit"))


def test_quota_replays_and_audit_across_two_replicas(
    replicas: Replicas, capsys: pytest.CaptureFixture[str]
) -> None:
    assert REDIS_URL is not None
    servers = (replicas.a, replicas.b)
    pin = a_pin(replicas.database_url)
    bearer = token(replicas.a)  # issued by A, honoured by B
    sent: Counter[str] = Counter()

    # A request id used at A is refused at B (the refusal still passed the quota: 2 of N).
    headers = lookup_headers(bearer, request_id="replica-e2e-replayed")
    ok = httpx.get(f"{replicas.a.url}/v1/registry/citizens/{pin}", headers=headers)
    assert ok.status_code == 200, ok.text
    again = httpx.get(f"{replicas.b.url}/v1/registry/citizens/{pin}", headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "GATEWAY_REQUEST_REPLAYED"
    sent[headers["X-MaYeuCau"]] += 2

    # Quota: N per minute across both replicas, requests alternating.
    statuses: list[int] = []
    retry_after: list[int] = []
    for i in range(QUOTA_PER_MINUTE - 2 + 10):
        headers = lookup_headers(bearer)
        r = httpx.get(f"{servers[i % 2].url}/v1/registry/citizens/{pin}", headers=headers)
        sent[headers["X-MaYeuCau"]] += 1
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert r.json()["code"] == "GATEWAY_QUOTA_EXCEEDED"
            retry_after.append(int(r.headers["retry-after"]))
        else:
            assert r.status_code == 200 and r.json()["pin"] == pin, r.text
    assert statuses.count(200) == QUOTA_PER_MINUTE - 2, statuses
    assert statuses.count(429) == 10 and all(1 <= s <= 61 for s in retry_after), statuses
    assert 200 in statuses[0::2] and 200 in statuses[1::2]  # admitted by both replicas

    # A client assertion's jti used at A is refused at B. Its audience is the token endpoint
    # as each replica sees it (behind a balancer both see one name): the same jti, for B's.
    signed = assertion(replicas.key, replicas.a.url + "/oauth/token")
    first = httpx.post(replicas.a.url + "/oauth/token", data=assertion_form(signed))
    assert first.status_code == 200, first.text
    jti_again = assertion(replicas.key, replicas.b.url + "/oauth/token", jti=_jti(signed))
    replay = httpx.post(replicas.b.url + "/oauth/token", data=assertion_form(jti_again))
    assert replay.status_code == 401 and "already used" in replay.json()["error_description"]

    # One chain in PostgreSQL, one record per exchange, whichever replica served it.
    report = verify_postgres(replicas.database_url)
    assert report.ok, report
    assert audited_request_ids(replicas.database_url) == sent
    assert report.records == sum(sent.values())
    settings = Settings(database_url=replicas.database_url, data_dir=replicas.data_dir)
    assert audit_verify(settings) == 0
    assert f"intact: {report.records} records" in capsys.readouterr().out


def _jti(signed: str) -> str:
    import jwt

    value: str = jwt.decode(signed, options={"verify_signature": False})["jti"]
    return value
