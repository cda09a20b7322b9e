"""sim06's registry beside Stoplight Prism mocking the same contract: lookup throughput and p99.

    bash benchmarks/peers/prism.sh [--rounds 3 --duration 8 --connections 16]

Both serve ``GET /v1/citizens/{pin}`` from ``contracts/openapi/registry.yaml`` on 127.0.0.1:
sim06 as ``services.asgi:registry`` (one uvicorn worker, a seeded SQLite population, real
lookups of 200 different PINs), Prism as ``prism mock`` (static examples, no state). Servers are
pinned to CPU 0, the load generator (services.bench.run_load, closed loop) to CPU 1; rounds
alternate sim06, Prism, sim06, ... Prints one JSON document: per-round figures, medians and the
ratios sim06/Prism (throughput: higher is better for sim06; p99: lower is better).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.bench import encode_request, free_port, pin_cpu, run_load, start_uvicorn

CONTRACT = Path("contracts/openapi/registry.yaml")


@contextmanager
def run_prism(prism: Path, cpu: int) -> Iterator[int]:
    """``prism mock`` of the registry contract on 127.0.0.1, pinned to ``cpu``: its port."""
    port = free_port()
    saved = os.sched_getaffinity(0)
    pin_cpu(0, {cpu})  # node inherits the mask of the thread that forks it
    try:
        process = subprocess.Popen(
            [str(prism), "mock", str(CONTRACT), "-h", "127.0.0.1", "-p", str(port), "--errors",
             "false"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        pin_cpu(0, saved)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("prism did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pins(db: Path, count: int = 200) -> list[str]:
    """``count`` PINs of the seeded population (stored as integers: zero-padded back)."""
    store = SQLiteCitizenStore(db, readonly=True)
    try:
        query = "SELECT pin FROM citizens ORDER BY id LIMIT ?"
        rows = store._db.execute(query, (count,)).fetchall()
    finally:
        store.close()
    return [f"{int(r[0]):012d}" for r in rows]


def _round(name: str, port: int, lookups: list[str], args: argparse.Namespace) -> dict[str, Any]:
    requests = [
        encode_request("GET", f"/v1/citizens/{pin}", host=f"127.0.0.1:{port}") for pin in lookups
    ]
    result = run_load("127.0.0.1", port, requests, connections=args.connections,
                      duration=args.duration, warmup=1.0)  # fmt: skip
    ok = result.status_counts.get(200, 0)
    return {
        "server": name, "rps": round(result.rps, 1), "p50_ms": round(result.p50_ms, 2),
        "p99_ms": round(result.p99_ms, 2), "ok_share": round(ok / max(1, result.requests), 4),
        "statuses": {str(k): v for k, v in result.status_counts.items()},
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prism", type=Path, required=True, help="the prism executable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--population", type=int, default=10_000)
    args = parser.parse_args(argv)
    pin_cpu(0, {1})  # the load generator on CPU 1, the servers on CPU 0
    with tempfile.TemporaryDirectory(prefix="sim06-prism-") as tmp:
        db = Path(tmp) / "population.db"
        store = SQLiteCitizenStore(db)
        seed_store(store, seed=6, size=args.population, as_of=date(2026, 7, 1))
        store.close()
        lookups = pins(db)
        env = {"SIM06_DB_PATH": str(db), "SIM06_DATA_DIR": tmp}
        rounds: list[dict[str, Any]] = []
        with (
            start_uvicorn("sim06.services.asgi:registry", factory=True, env=env,
                          health_path="/healthz", cpus={0}) as sim06,
            run_prism(args.prism, 0) as prism_port,
        ):  # fmt: skip
            for i in range(args.rounds):
                rounds.append(_round("sim06", sim06.port, lookups, args) | {"round": i})
                rounds.append(_round("prism", prism_port, lookups, args) | {"round": i})
    med = {
        name: {k: statistics.median(r[k] for r in rounds if r["server"] == name)
               for k in ("rps", "p50_ms", "p99_ms")}
        for name in ("sim06", "prism")
    }  # fmt: skip
    report = {
        "command": "bash benchmarks/peers/prism.sh " + " ".join(argv or []),
        "date": date.today().isoformat(), "cpus": os.cpu_count(),
        "rounds": rounds, "median": med,
        "ratio": {
            "throughput_sim06_over_prism": round(med["sim06"]["rps"] / med["prism"]["rps"], 2),
            "p99_prism_over_sim06": round(med["prism"]["p99_ms"] / med["sim06"]["p99_ms"], 2),
        },
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
