"""Agencies, credentials and a Redis prefix for the tests of gateways sharing state.

Test-only secrets. Two agencies: ``QUOTA`` (client_secret_basic, a small quota) and ``JWT``
(private_key_jwt with an EC key made per test run, a large quota).
"""

from __future__ import annotations

import itertools
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm

from sim06.services.common.settings import Settings
from sim06.services.gateway.app import create_app
from tests.services.gateway.helpers import ADMIN

QUOTA_PER_MINUTE = 20
QUOTA = {
    "client_id": "replica-quota",
    "secret": "replica-quota-secret-0123456789",
    "code": "000.99.01.H99",
    "procedure": "P1",
    "officer": "O1",
    "purpose": "p",
}
JWT_CLIENT = {"client_id": "replica-jwt", "code": "000.99.02.H99"}
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ids = itertools.count(1)


def redis_prefix() -> str:
    """A prefix of this test's own keys (one Redis shared by test runs)."""
    return f"sim06-test-{secrets.token_hex(6)}:"


def write_agencies(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    """The agencies file both replicas load (JSON is YAML)."""
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update({"kid": "k1", "alg": "ES256", "use": "sig"})
    procedures = [{"code": "P1", "purposes": {"p": {"grants": {"lookup": "*", "verify": "*"}}}}]
    officers = [{"code": "O1", "permissions": ["P1"]}]
    document = {
        "version": 1,
        "agencies": [
            {"code": QUOTA["code"], "name": "Replica quota test", "client_id": QUOTA["client_id"],
             "client_secret": QUOTA["secret"], "quota_per_minute": QUOTA_PER_MINUTE,
             "procedures": procedures, "officers": officers},
            {"code": JWT_CLIENT["code"], "name": "Replica JWT test",
             "client_id": JWT_CLIENT["client_id"], "jwks": {"keys": [jwk]},
             "quota_per_minute": 10_000, "procedures": procedures, "officers": officers},
        ],
    }  # fmt: skip
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return path


def assertion(key: ec.EllipticCurvePrivateKey, audience: str, jti: str | None = None) -> str:
    """A client assertion (RFC 7523) of the JWT agency for the token endpoint ``audience``."""
    now = int(time.time())
    client = JWT_CLIENT["client_id"]
    claims = {"iss": client, "sub": client, "aud": audience, "iat": now, "exp": now + 60,
              "jti": jti or str(uuid.uuid4())}  # fmt: skip
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})


def assertion_form(signed: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": signed,
    }


def lookup_headers(token: str, request_id: str | None = None) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "X-Road-Client": QUOTA["code"],
        "X-MaYeuCau": request_id or f"replica-{next(_ids):06d}-{secrets.token_hex(4)}",
        "X-MaDVC": QUOTA["procedure"],
        "X-MaCanBo": QUOTA["officer"],
        "X-Purpose": QUOTA["purpose"],
        "X-Legal-Basis": "Nghi dinh 104/2022/ND-CP",
    }


@asynccontextmanager
async def two_gateways(
    tmp_path: Path, seeded_db: Path, redis_url: str, key: ec.EllipticCurvePrivateKey
) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    """Two gateway apps in this process sharing Redis, keys and agencies (each its own audit
    file): replicas without the processes."""
    agencies = write_agencies(tmp_path / "agencies.json", key)
    prefix = redis_prefix()
    apps = [
        create_app(
            Settings(
                data_dir=tmp_path / "data", db_path=seeded_db, redis_url=redis_url,
                redis_prefix=prefix, gateway_agencies_file=agencies, gateway_admin_token=ADMIN,
                gateway_audit_path=tmp_path / f"audit-{name}.db",
            )
        )
        for name in ("a", "b")
    ]  # fmt: skip
    try:
        yield apps[0], apps[1]
    finally:
        for app in apps:
            await app.state.gateway.registry.aclose()
            app.state.audit.close()
        clear_redis(redis_url, prefix)


def clear_redis(redis_url: str, prefix: str) -> None:
    """Delete the test's keys."""
    from sim06.services.common.redis_state import RedisStateStore

    store = RedisStateStore(redis_url, prefix=prefix)
    try:
        store.clear()
    finally:
        store.close()
