"""Two identity replicas (separate processes) sharing one Redis behave as one provider.

End to end: ``uvicorn --factory services.asgi:identity`` twice, with ``SIM06_REDIS_URL``. Needs
``SIM06_TEST_REDIS_URL``; skipped while the identity entry point does not yet put its state in
Redis (seen from Redis itself: no key under the test's prefix after a code was issued).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sim06.services.bench.servers import ServerProcess, start_uvicorn
from sim06.services.identity.pkce import s256
from tests.backends import REDIS_URL, needs_redis
from tests.services.identity.conftest import (
    AUTO,
    ISSUER,
    REDIRECT,
    assertion,
    auth_params,
    basic,
    clients_yaml,
)

pytestmark = [
    pytest.mark.e2e,
    needs_redis,
]
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def replicas(
    tmp_path: Path, seeded_db: Path, rp_key: rsa.RSAPrivateKey
) -> Iterator[tuple[ServerProcess, ServerProcess, str]]:
    redis_state = pytest.importorskip("sim06.services.common.redis_state")
    prefix = f"sim06-test-{secrets.token_hex(6)}:"
    env = {
        "SIM06_DB_PATH": str(seeded_db),
        "SIM06_DATA_DIR": str(tmp_path / "data"),  # one signing key for both
        "SIM06_IDENTITY_ISSUER": ISSUER,  # one issuer: what a load balancer presents
        "SIM06_IDENTITY_CLIENTS_FILE": str(clients_yaml(tmp_path / "clients.yaml", rp_key)),
        "SIM06_REDIS_URL": str(REDIS_URL),
        "SIM06_REDIS_PREFIX": prefix,
    }
    # One after the other: the first creates the keys the second then reads.
    a = start_uvicorn("sim06.services.asgi:identity", factory=True, env=env, health_path="/healthz")
    try:
        b = start_uvicorn(
            "sim06.services.asgi:identity", factory=True, env=env, health_path="/healthz"
        )
        try:
            yield a, b, prefix
        finally:
            b.stop()
    finally:
        a.stop()
        redis_state.RedisStateStore(str(REDIS_URL), prefix=prefix).clear()


def issue_code(server: ServerProcess, prefix: str, **extra: str) -> tuple[str, str]:
    """Auto-login at ``server``: (code, PKCE verifier)."""
    verifier = secrets.token_urlsafe(48)
    r = httpx.get(
        server.url + "/authorize", params=auth_params(s256(verifier), **extra), headers=AUTO
    )
    assert r.status_code in (302, 303), r.text
    location = r.headers["location"]
    assert location.startswith(REDIRECT), location
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    redis_state = pytest.importorskip("sim06.services.common.redis_state")
    if len(redis_state.RedisStateStore(str(REDIS_URL), prefix=prefix)) == 0:
        pytest.skip("sim06.services.asgi:identity does not keep its state in SIM06_REDIS_URL yet")
    return query["code"], verifier


def token_form(code: str, verifier: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **extra,
    }


def test_code_issued_by_one_replica_is_redeemed_once_at_any(
    replicas: tuple[ServerProcess, ServerProcess, str],
) -> None:
    a, b, prefix = replicas
    code, verifier = issue_code(a, prefix)
    first = httpx.post(b.url + "/token", data=token_form(code, verifier), headers=basic())
    assert first.status_code == 200, first.text
    assert first.json()["token_type"].lower() == "bearer"
    # The access token issued by B is honoured by A (shared grant state and signing key).
    userinfo = httpx.get(
        a.url + "/userinfo", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
    )
    assert userinfo.status_code == 200, userinfo.text
    second = httpx.post(a.url + "/token", data=token_form(code, verifier), headers=basic())
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant", second.text


def test_client_assertion_replayed_at_another_replica_is_refused(
    replicas: tuple[ServerProcess, ServerProcess, str], rp_key: rsa.RSAPrivateKey
) -> None:
    a, b, prefix = replicas
    signed = assertion(rp_key, aud=ISSUER + "/token")
    auth = {"client_id": "rp-jwt", "client_assertion_type": JWT_BEARER}
    code, verifier = issue_code(a, prefix, client_id="rp-jwt")
    r = httpx.post(
        b.url + "/token", data=token_form(code, verifier, client_assertion=signed, **auth)
    )
    assert r.status_code == 200, r.text
    code, verifier = issue_code(b, prefix, client_id="rp-jwt")
    replay = httpx.post(
        a.url + "/token", data=token_form(code, verifier, client_assertion=signed, **auth)
    )
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client", replay.text
    assert "jti" in replay.json()["error_description"]
    # The same code with a fresh assertion still works: only the replay was refused.
    fresh = assertion(rp_key, aud=ISSUER + "/token")
    ok = httpx.post(
        a.url + "/token", data=token_form(code, verifier, client_assertion=fresh, **auth)
    )
    assert ok.status_code == 200, ok.text


def test_portal_login_crosses_replicas(
    replicas: tuple[ServerProcess, ServerProcess, str],
) -> None:
    """Portal authorize at A, VNeID realm login at B, broker callback at A (its back channel
    redeems B's code), portal token at B: the portal's and the realm's state are shared."""
    a, b, _ = replicas
    verifier = secrets.token_urlsafe(48)
    r = httpx.get(a.url + "/oauth2/authorize", params=auth_params(s256(verifier)), headers=AUTO)
    steps = [r]
    while not r.headers["location"].startswith(REDIRECT):
        server = (a, b)[len(steps) % 2]
        r = httpx.get(r.headers["location"].replace(ISSUER, server.url), headers=AUTO)
        assert r.status_code == 303, r.text
        steps.append(r)
    assert [urlsplit(str(s.url)).path for s in steps] == [
        "/oauth2/authorize", "/auth/realms/citizen/protocol/openid-connect/auth", "/commonauth"
    ]  # fmt: skip
    assert "vneid;dur=" in r.headers["server-timing"]
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    token = httpx.post(b.url + "/oauth2/token", data=token_form(code, verifier), headers=basic())
    assert token.status_code == 200, token.text
    assert token.json()["id_token"]
