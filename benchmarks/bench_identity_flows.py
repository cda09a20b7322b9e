"""Full VNeID login flows per second against a live identity provider (one uvicorn worker).

    python benchmarks/bench_identity_flows.py --duration 10 --concurrency 16

Each flow is what a relying party does in CI with the non-interactive mode:
GET /authorize (auto-login, PKCE S256) → 303 with a code → POST /token (client_secret_basic)
→ GET /userinfo with the access token. The server is pinned to --server-cpu, this process to
--client-cpu. Prints flows/s and p50/p99 of whole flows, as JSON.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import orjson
from fastapi import FastAPI

from mock_registry.seed import seed_store
from mock_registry.store import SQLiteCitizenStore
from services.bench import FlowClient, pin_cpu, run_flows, start_uvicorn
from services.bench.flows import Flow
from services.bench.servers import free_port
from services.common.settings import Settings
from services.identity import create_app
from services.identity.pkce import s256

CLIENT_ID, SECRET = "bench-rp", "bench-secret-not-for-production"
REDIRECT = "http://127.0.0.1:9/callback"
VERIFIER = "bench-verifier-" + "x" * 40
PERSONAS = ("001090104217", "001301642018", "074185419965", "036062520156")


def make_app() -> FastAPI:
    """uvicorn --factory entry: settings from SIM06_* (set by main)."""
    return create_app(Settings())


def prepare(workdir: Path) -> dict[str, str]:
    """Seed a small database and write the clients file; the server's SIM06_* environment."""
    db = workdir / "population.db"
    store = SQLiteCitizenStore(db)
    seed_store(store, seed=6, size=3000, as_of=date(2026, 7, 1))
    store.close()
    clients = workdir / "clients.yaml"
    clients.write_text(
        json.dumps({"clients": [{"client_id": CLIENT_ID, "client_secret": SECRET,
                                 "redirect_uris": [REDIRECT]}]}),  # JSON is YAML
        "utf-8",
    )  # fmt: skip
    return {
        "SIM06_DATA_DIR": str(workdir / "data"),
        "SIM06_DB_PATH": str(db),
        "SIM06_IDENTITY_AUTO_LOGIN": "true",
        "SIM06_IDENTITY_CLIENTS_FILE": str(clients),
    }


def make_flow() -> Flow:
    basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    challenge = s256(VERIFIER)
    counter = 0

    async def flow(client: FlowClient) -> None:
        nonlocal counter
        counter += 1
        query = urlencode({
            "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
            "scope": "openid profile vneid_profile", "state": str(counter), "nonce": "n",
            "code_challenge": challenge, "code_challenge_method": "S256",
            "login_hint": PERSONAS[counter % len(PERSONAS)],
        })  # fmt: skip
        r = (await client.request("GET", "/authorize?" + query)).expect(303)
        location = r.headers["location"]
        code = location.split("code=", 1)[1].split("&", 1)[0]
        form = urlencode(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
             "code_verifier": VERIFIER}
        ).encode()  # fmt: skip
        r = (
            await client.request(
                "POST", "/token", body=form,
                headers={"Authorization": basic,
                         "Content-Type": "application/x-www-form-urlencoded"},
            )
        ).expect(200)  # fmt: skip
        access = orjson.loads(r.body)["access_token"]
        r = (
            await client.request("GET", "/userinfo", headers={"Authorization": "Bearer " + access})
        ).expect(200)
        assert b"SoDinhDanh" in r.body

    return flow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--alg", choices=("RS256", "ES256"), default="RS256")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sim06-idp-bench-") as tmp:
        env = prepare(Path(tmp))
        port = free_port()
        env["SIM06_IDENTITY_ISSUER"] = f"http://127.0.0.1:{port}"
        env["SIM06_IDENTITY_ALG"] = args.alg
        with start_uvicorn(
            "benchmarks.bench_identity_flows:make_app", port=port, env=env, factory=True,
            health_path="/healthz", cpus={args.server_cpu},
            cwd=str(Path(__file__).resolve().parents[1]),
        ) as server:  # fmt: skip
            pin_cpu(0, args.client_cpu)
            result = run_flows(
                "127.0.0.1", server.port, make_flow(),
                concurrency=args.concurrency, duration=args.duration, warmup=args.warmup,
            )  # fmt: skip
    sys.stdout.write(json.dumps({"alg": args.alg, **result.to_dict()}, indent=2) + "\n")
    return 0 if not result.errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
