"""Lookup latency does not grow with population size: p50 at a large population vs a small one.

``python -m benchmarks.bench_lookup_scaling --large-db /tmp/pop1m.db [--small 10000]
[--connections 16]``

Seeds what is missing, then measures (a) in process: ``store.get`` over random PINs, and
(b) over HTTP: one uvicorn worker per database (CPU 0) with the admission HTTP protocol, as
``sim06 up`` serves, the project's load generator (CPU 1), alternating rounds. At the default 16
connections the server's core is saturated and a p50 is mostly the queue (16 service times);
``--connections 1`` measures one client's lookups one after another, the latency an integrator
sees on an idle mock. Prints p50 of each and the ratio large/small.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.bench_registry_http import ensure_db, sample_pins
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.bench import encode_request, pin_cpu, run_load, start_uvicorn
from sim06.services.common.admission_http import PROTOCOL


def in_process_p50_us(db: Path, pins: list[str], rounds: int = 5) -> float:
    store = SQLiteCitizenStore(db, readonly=True)
    for pin in pins:  # warm the page cache: we compare data structures, not disks
        store.get(pin)
    samples = []
    for _ in range(rounds):
        for pin in pins:
            t = time.perf_counter_ns()
            store.get(pin)
            samples.append(time.perf_counter_ns() - t)
    store.close()
    return statistics.median(samples) / 1000


def http_p50s(
    envs: dict[str, dict[str, str]],
    pins: dict[str, list[str]],
    rounds: int,
    duration: float,
    connections: int = 16,
) -> dict[str, list[float]]:
    """Per round, the p50 (ms) of lookups of ``pins[name]`` from a registry served with
    ``envs[name]`` (one uvicorn worker on CPU 0, this process on CPU 1, ``connections``
    connections), the servers alternating so that the machine's noise hits each alike."""
    p50s: dict[str, list[float]] = {name: [] for name in envs}
    pin_cpu(os.getpid(), 1)
    for _ in range(rounds):
        for name, env in envs.items():
            reqs = [
                encode_request("GET", f"/v1/citizens/{p}", host="127.0.0.1") for p in pins[name]
            ]
            with start_uvicorn(
                "sim06.services.asgi:registry",
                factory=True,
                env=env,
                cpus={0},
                health_path="/healthz",
                http_protocol=PROTOCOL,
            ) as server:
                result = run_load(
                    "127.0.0.1",
                    server.port,
                    reqs,
                    connections=connections,
                    duration=duration,
                    warmup=1.0,
                )
            p50s[name].append(result.p50_ms)
    return p50s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--large-db", type=Path)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16, help="HTTP load's connections")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    small_db = Path(tmp.name) / "small.db"
    large_db = args.large_db or Path(tmp.name) / "large.db"
    ensure_db(small_db, args.small)
    ensure_db(large_db, args.large)
    dbs = {"small": small_db, "large": large_db}
    pins = {name: sample_pins(db, 5000) for name, db in dbs.items()}
    report: dict[str, float] = {}
    for name, db in dbs.items():
        report[f"{name}_store_get_p50_us"] = round(in_process_p50_us(db, pins[name]), 2)
    envs = {
        name: {"SIM06_DB_PATH": str(db), "SIM06_DATA_DIR": tmp.name} for name, db in dbs.items()
    }
    p50s = http_p50s(envs, pins, args.rounds, args.duration, args.connections)
    for name in dbs:
        report[f"{name}_http_p50_ms"] = round(statistics.median(p50s[name]), 3)
    report["store_ratio_large_small"] = round(
        report["large_store_get_p50_us"] / report["small_store_get_p50_us"], 3
    )
    report["http_ratio_large_small"] = round(
        statistics.median(p50s["large"]) / statistics.median(p50s["small"]), 3
    )
    for key, value in report.items():
        print(f"{key:>28}: {value}")
    # Each round's pair too: a run's ratio moves by several percent with the machine's noise,
    # and the rounds show how far.
    rounds = [
        {"small_ms": round(small, 3), "large_ms": round(large, 3), "ratio": round(large / small, 3)}
        for small, large in zip(p50s["small"], p50s["large"], strict=True)
    ]
    for i, pair in enumerate(rounds, 1):
        print(f"round {i}: {pair['small_ms']} vs {pair['large_ms']} ms, {pair['ratio']}x")
    print(json.dumps(report | {"rounds": rounds}))
    tmp.cleanup()


if __name__ == "__main__":
    main()
