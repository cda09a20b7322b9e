"""Throughput of ``POST /v1/chip/verify``, ``GET /v1/cards/{pin}/chip`` and
``POST /v1/biometrics/face-match`` (genuine probes) under one worker.

``python benchmarks/bench_chip_http.py [--size 20000] [--cards 500] [--duration 8]``

The chip service runs on one uvicorn worker pinned to CPU 0; the project's load generator
(services.bench) runs on CPU 1. The verify requests cycle over the genuine chip files of
``--cards`` card holders, read once from the service itself, so every request does a full
passive authentication, a registry lookup and a signed verdict.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sqlite3
import tempfile
from datetime import date
from pathlib import Path

import orjson
from fastapi import FastAPI

from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.bench import encode_request, pin_cpu, run_load, start_uvicorn
from sim06.services.common.settings import Settings


def app() -> FastAPI:
    """Entry point: ``uvicorn --factory benchmarks.bench_chip_http:app`` (settings from env)."""
    from sim06.services.chip.app import create_app

    return create_app(Settings())


def card_holders(path: Path, n: int) -> list[str]:
    db = sqlite3.connect(path)
    rows = db.execute("SELECT pin FROM citizens ORDER BY pin LIMIT ?", (n * 4,)).fetchall()
    db.close()
    return [f"{r[0]:012d}" for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--cards", type=int, default=500)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--faces", type=int, default=50, help="distinct face-match probes")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    db = Path(tmp.name) / "population.db"
    store = SQLiteCitizenStore(db)
    seed_store(store, seed=6, size=args.size, as_of=date(2026, 7, 1))
    store.close()
    env = {"SIM06_DB_PATH": str(db), "SIM06_DATA_DIR": tmp.name}
    pin_cpu(os.getpid(), 1)
    import httpx

    with start_uvicorn(
        "benchmarks.bench_chip_http:app", factory=True, env=env, cpus={0}, health_path="/healthz"
    ) as server:
        base = f"http://127.0.0.1:{server.port}"
        bodies = []
        with httpx.Client(base_url=base) as client:
            for pin in card_holders(db, args.cards):
                r = client.get(f"/v1/cards/{pin}/chip")
                if r.status_code == 200:
                    bodies.append(r.content)
                if len(bodies) == args.cards:
                    break
        headers = {"content-type": "application/json"}
        verify = [
            encode_request("POST", "/v1/chip/verify", host="127.0.0.1", headers=headers, body=b)
            for b in bodies
        ]
        pins = [orjson.loads(b)["idNumber"] for b in bodies]
        reads = [encode_request("GET", f"/v1/cards/{p}/chip", host="127.0.0.1") for p in pins]
        with httpx.Client(base_url=base) as client:
            faces = []
            for p in pins[: args.faces]:
                probe = client.get(f"/v1/biometrics/probes/{p}", params={"kind": "genuine"})
                image = base64.b64encode(probe.content).decode()
                body = orjson.dumps({"pin": p, "image": image})
                faces.append(
                    encode_request(
                        "POST",
                        "/v1/biometrics/face-match",
                        host="127.0.0.1",
                        headers=headers,
                        body=body,
                    )
                )
        common = {"connections": args.connections, "duration": args.duration, "warmup": 1.0}
        results = {}
        for name, reqs in (("verify", verify), ("read", reads), ("face-match", faces)):
            n = len(reqs)

            def cycle(k: int, r: list[bytes] = reqs, n: int = n) -> bytes:
                return r[k % n]

            result = run_load("127.0.0.1", server.port, cycle, **common)
            assert result.status_counts.get(200, 0) == result.requests, result.status_counts
            results[name] = result.to_dict()
            print(f"--- {name} ({n} distinct cards)\n{result.format()}")
    print(json.dumps(results))
    tmp.cleanup()


if __name__ == "__main__":
    main()
