"""Full VNeID login flows per second against a live identity provider (one uvicorn worker).

    python benchmarks/bench_identity_flows.py --duration 10 --concurrency 16 [--alg ES256]
        [--auth private_key_jwt]

Each flow is what a relying party does in CI with the non-interactive mode:
GET /authorize (auto-login, PKCE S256) → 303 with a code → POST /token (client_secret_basic,
or a fresh ES256 client assertion with --auth private_key_jwt) → GET /userinfo with the access
token. The server is pinned to --server-cpu, this process to --client-cpu. Prints flows/s and
p50/p99 of whole flows, as JSON. ``benchmarks/peers/bench_vs_mockpass.py`` reuses
:func:`serve` and :func:`make_flow` to run the same flow beside MockPass.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.bench import FlowClient, ServerProcess, pin_cpu, run_flows, start_uvicorn
from sim06.services.bench.flows import Flow
from sim06.services.bench.servers import free_port
from sim06.services.common.keys import public_jwk
from sim06.services.common.settings import Settings
from sim06.services.identity import create_app
from sim06.services.identity.client_auth import ASSERTION_TYPE
from sim06.services.identity.pkce import s256

CLIENT_ID, SECRET = "bench-rp", "bench-secret-not-for-production"
JWT_CLIENT_ID = "bench-rp-jwt"
REDIRECT = "http://127.0.0.1:9/callback"
VERIFIER = "bench-verifier-" + "x" * 40
PERSONAS = ("001090104217", "001301642018", "074185419965", "036062520156")
AUTH_METHODS = ("client_secret_basic", "private_key_jwt")
ROOT = Path(__file__).resolve().parents[1]


def make_app() -> FastAPI:
    """uvicorn --factory entry: settings from SIM06_* (set by main)."""
    return create_app(Settings())


def prepare(workdir: Path, client_key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """Seed a small database and write the clients file; the server's SIM06_* environment."""
    db = workdir / "population.db"
    store = SQLiteCitizenStore(db)
    seed_store(store, seed=6, size=3000, as_of=date(2026, 7, 1))
    store.close()
    clients = workdir / "clients.yaml"
    clients.write_text(
        json.dumps({"clients": [
            {"client_id": CLIENT_ID, "client_secret": SECRET, "redirect_uris": [REDIRECT]},
            {"client_id": JWT_CLIENT_ID, "token_endpoint_auth_method": "private_key_jwt",
             "jwks": {"keys": [public_jwk(client_key, "bench-1", "ES256")]},
             "redirect_uris": [REDIRECT]},
        ]}),  # JSON is YAML
        "utf-8",
    )  # fmt: skip
    return {
        "SIM06_DATA_DIR": str(workdir / "data"),
        "SIM06_DB_PATH": str(db),
        "SIM06_IDENTITY_AUTO_LOGIN": "true",
        "SIM06_IDENTITY_CLIENTS_FILE": str(clients),
    }


@contextmanager
def serve(
    alg: str, server_cpu: int, client_key: ec.EllipticCurvePrivateKey
) -> Iterator[ServerProcess]:
    """Run the identity provider as ``sim06 up`` does (one uvicorn worker, pinned)."""
    with tempfile.TemporaryDirectory(prefix="sim06-idp-bench-") as tmp:
        env = prepare(Path(tmp), client_key)
        port = free_port()
        env["SIM06_IDENTITY_ISSUER"] = f"http://127.0.0.1:{port}"
        env["SIM06_IDENTITY_ALG"] = alg
        server: ServerProcess
        with start_uvicorn(
            "benchmarks.bench_identity_flows:make_app", port=port, env=env, factory=True,
            health_path="/healthz", cpus={server_cpu}, cwd=str(ROOT),
        ) as server:  # fmt: skip
            yield server


def make_flow(
    issuer: str, auth: str = "client_secret_basic", key: ec.EllipticCurvePrivateKey | None = None
) -> Flow:
    """One login: authorize → code → token → userinfo, checking each answer."""
    basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    client_id = CLIENT_ID if auth == "client_secret_basic" else JWT_CLIENT_ID
    challenge = s256(VERIFIER)
    counter = 0

    def token_request(code: str) -> tuple[bytes, dict[str, str]]:
        fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                  "code_verifier": VERIFIER}  # fmt: skip
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if auth == "client_secret_basic":
            headers["Authorization"] = basic
        else:
            assert key is not None, "private_key_jwt needs the client's key"
            now = int(time.time())
            claims = {"iss": client_id, "sub": client_id, "aud": issuer + "/token",
                      "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}  # fmt: skip
            fields["client_assertion_type"] = ASSERTION_TYPE
            fields["client_assertion"] = jwt.encode(
                claims, key, algorithm="ES256", headers={"kid": "bench-1"}
            )
        return urlencode(fields).encode(), headers

    async def flow(client: FlowClient) -> None:
        nonlocal counter
        counter += 1
        query = urlencode({
            "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
            "scope": "openid profile vneid_profile", "state": str(counter), "nonce": "n",
            "code_challenge": challenge, "code_challenge_method": "S256",
            "login_hint": PERSONAS[counter % len(PERSONAS)],
        })  # fmt: skip
        r = (await client.request("GET", "/authorize?" + query)).expect(303)
        location = r.headers["location"]
        code = location.split("code=", 1)[1].split("&", 1)[0]
        body, headers = token_request(code)
        r = (await client.request("POST", "/token", body=body, headers=headers)).expect(200)
        access = orjson.loads(r.body)["access_token"]
        r = (
            await client.request("GET", "/userinfo", headers={"Authorization": "Bearer " + access})
        ).expect(200)
        assert b"SoDinhDanh" in r.body

    return flow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--alg", choices=("RS256", "ES256"), default="RS256")
    parser.add_argument("--auth", choices=AUTH_METHODS, default="client_secret_basic")
    args = parser.parse_args(argv)
    key = ec.generate_private_key(ec.SECP256R1())
    with serve(args.alg, args.server_cpu, key) as server:
        pin_cpu(0, args.client_cpu)
        result = run_flows(
            "127.0.0.1", server.port, make_flow(server.url, args.auth, key),
            concurrency=args.concurrency, duration=args.duration, warmup=args.warmup,
        )  # fmt: skip
    out = {"alg": args.alg, "auth": args.auth, **result.to_dict()}
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0 if not result.errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
