"""HTTP lookup by PIN from the SQLite store vs a bare ASGI app returning a fixed JSON body.

``python benchmarks/bench_registry_http.py [--db PATH] [--size N] [--rounds 3] [--duration 8]``

Both servers run side by side on one uvicorn worker each, pinned to CPU 0; the load generator
(the project's own, services.bench) is pinned to CPU 1. Runs alternate baseline / registry so
that the machine's noise hits both; the ratio is reported per round and as the median.
The registry lookups cycle over a few thousand real PINs of the database.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.bench import encode_request, pin_cpu, run_load, start_uvicorn
from sim06.services.common.admission_http import PROTOCOL
from sim06.services.registry.service import CANCELLED


def ensure_db(path: Path, size: int) -> None:
    if path.exists():
        return
    store = SQLiteCitizenStore(path)
    seed_store(store, seed=6, size=size, as_of=date(2026, 7, 1))
    store.close()


def sample_pins(path: Path, n: int = 5000, seed: int = 1) -> list[str]:
    """``n`` live PINs spread over the whole table, the same ones on every run of one file.

    Rows are drawn by random id (the rowid), so sampling a 10M file reads about ``2n`` rows, not the
    26 GB that ``ORDER BY random()`` scanned (35 s, and the page cache evicted); a fixed draw
    lets two runs of a benchmark compare like with like."""
    db = sqlite3.connect(path)
    try:
        top = int(db.execute("SELECT coalesce(max(id), 0) FROM citizens").fetchone()[0])
        # Twice as many as wanted: cancelled PINs answer 410 (the citizen's new PIN) and a lookup
        # benchmark wants live ones (a small table is drawn whole).
        ids = random.Random(seed).sample(range(1, top + 1), min(top, 2 * n + 100))
        live: dict[int, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            live.update(
                db.execute(
                    f"SELECT id, pin FROM citizens WHERE id IN ({marks})"  # noqa: S608
                    " AND instr(record, ?) = 0",
                    (*chunk, CANCELLED),
                ).fetchall()
            )
    finally:
        db.close()
    return [f"{live[i]:012d}" for i in ids if i in live][:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--http", default=PROTOCOL,
        help="the services' uvicorn HTTP protocol (default: admission's, as `sim06 up` serves)",
    )  # fmt: skip
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    db = args.db or Path(tmp.name) / "population.db"
    ensure_db(db, args.size)
    pins = sample_pins(db)
    lookups = [encode_request("GET", f"/v1/citizens/{pin}", host="127.0.0.1") for pin in pins]
    n = len(lookups)
    fixed = encode_request("GET", "/v1/citizens/001090104217", host="127.0.0.1")
    env = {"SIM06_DB_PATH": str(db), "SIM06_DATA_DIR": tmp.name}
    pin_cpu(os.getpid(), 1)
    rounds: list[dict[str, Any]] = []
    with (
        start_uvicorn("sim06.services.bench.baseline:app", cpus={0}) as bare,
        start_uvicorn(
            "sim06.services.asgi:registry",
            factory=True,
            env=env,
            cpus={0},
            health_path="/healthz",
            http_protocol=args.http,
        ) as registry,
    ):
        for i in range(args.rounds):
            common = {"connections": args.connections, "duration": args.duration, "warmup": 1.0}
            base = run_load("127.0.0.1", bare.port, fixed, **common)
            reg = run_load("127.0.0.1", registry.port, lambda k: lookups[k % n], **common)
            assert reg.status_counts.get(200, 0) == reg.requests, reg.status_counts
            ratio = reg.rps / base.rps
            rounds.append(
                {
                    "round": i + 1,
                    "baseline": base.to_dict(),
                    "registry": reg.to_dict(),
                    "ratio": ratio,
                }
            )
            print(
                f"round {i + 1}: bare {base.rps:,.0f} rps "
                f"(p50 {base.p50_ms:.2f} p99 {base.p99_ms:.2f} ms)"
                f" | registry {reg.rps:,.0f} rps (p50 {reg.p50_ms:.2f} p99 {reg.p99_ms:.2f} ms)"
                f" | ratio {ratio:.1%}"
            )
    median = statistics.median(r["ratio"] for r in rounds)
    print(f"median ratio registry/bare: {median:.1%} over {len(rounds)} rounds")
    print(json.dumps({"median_ratio": median, "rounds": rounds}, default=str))
    tmp.cleanup()


if __name__ == "__main__":
    main()
