"""Logins through the portal SSO and the VNeID realm: the two hops a citizen waits for.

    python benchmarks/bench_portal_login.py --logins 200 --profile typical

Starts the identity service as ``sim06 up`` serves it (``services.asgi:identity``: fault
middleware included) on 127.0.0.1, then runs sequential logins with the non-interactive mode:
GET /oauth2/authorize (portal) → 303 to the realm's /auth (auto-login) → 303 to the portal's
/commonauth (back channel: realm token, certs when not cached, userinfo) → 303 to the agency
with the portal's code → POST /oauth2/token. Every request carries ``X-Sim-Latency-Profile``.
Prints, as JSON, p50/p95/p99 (ms) of the whole login and of the callback's ``Server-Timing``
metrics ``vneid`` (the back channel) and ``portal`` (the rest of the callback).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.bench import start_uvicorn
from sim06.services.bench.servers import free_port
from sim06.services.identity.pkce import s256

CLIENT_ID, SECRET = "bench-agency", "bench-secret-not-for-production"
REDIRECT = "http://127.0.0.1:9/callback"
VERIFIER = "bench-verifier-" + "x" * 40
PERSONAS = ("001090104217", "001301642018", "074185419965", "036062520156")


def prepare(workdir: Path) -> dict[str, str]:
    """Seed a small database and write the clients file; the server's SIM06_* environment."""
    db = workdir / "population.db"
    store = SQLiteCitizenStore(db)
    seed_store(store, seed=6, size=3000, as_of=date(2026, 7, 1))
    store.close()
    clients = workdir / "clients.yaml"
    clients.write_text(json.dumps({"clients": [
        {"client_id": CLIENT_ID, "client_secret": SECRET, "redirect_uris": [REDIRECT],
         "login_profile": "portal"},
    ]}), "utf-8")  # fmt: skip
    return {
        "SIM06_DATA_DIR": str(workdir / "data"),
        "SIM06_DB_PATH": str(db),
        "SIM06_IDENTITY_CLIENTS_FILE": str(clients),
    }


def percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


def login(http: httpx.Client, pin: str, n: int) -> tuple[float, dict[str, float]]:
    """One login; (wall ms, the callback's Server-Timing metrics)."""
    started = time.perf_counter()
    params = {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
        "scope": "openid vneid_profile", "state": f"s{n}", "acr_values": "LoA1",
        "code_challenge": s256(VERIFIER), "code_challenge_method": "S256", "login_hint": pin,
        "prompt": "login",  # no portal session reuse: every login crosses both hops
    }  # fmt: skip
    r = http.get("/oauth2/authorize", params=params)
    timing: dict[str, float] = {}
    while r.is_redirect and not r.headers["location"].startswith(REDIRECT):
        r = http.get(r.headers["location"])
        if r.url.path == "/commonauth":
            header = r.headers.get("server-timing", "")
            timing = {m[0]: float(m[1]) for m in re.findall(r"(\w+);dur=([0-9.]+)", header)}
    assert r.is_redirect, f"{r.url}: {r.status_code} {r.text[:300]}"
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    token = http.post("/oauth2/token", auth=(CLIENT_ID, SECRET), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
    })  # fmt: skip
    token.raise_for_status()
    return (time.perf_counter() - started) * 1000, timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--profile", default="typical", help="latency profile (ideal, typical…)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = prepare(Path(tmp)) | {"SIM06_IDENTITY_ISSUER": f"http://127.0.0.1:{port}"}
        with start_uvicorn(
            "sim06.services.asgi:identity", port=port, factory=True, env=env, health_path="/healthz"
        ) as server:
            headers = {"X-Sim-Auto-Login": "true", "X-Sim-Latency-Profile": args.profile}
            walls: list[float] = []
            hops: dict[str, list[float]] = {"vneid": [], "portal": []}
            with httpx.Client(base_url=server.url, headers=headers) as http:
                login(http, PERSONAS[0], -1)  # warm-up (and the realm's certs cached)
                for n in range(args.logins):
                    wall, timing = login(http, PERSONAS[n % len(PERSONAS)], n)
                    walls.append(wall)
                    for name in hops:
                        hops[name].append(timing[name])
    result = {
        "logins": args.logins,
        "profile": args.profile,
        "login_ms": percentiles(walls),
        **{f"{name}_ms": percentiles(values) for name, values in hops.items()},
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
