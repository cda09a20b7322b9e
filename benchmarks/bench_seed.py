"""Seeding throughput and peak memory: ``python benchmarks/bench_seed.py --size 1000000``.

Pins itself to one core (the issue's floor is "1,000,000 citizens in at most 60 s on one core,
peak memory under 500 MB") and seeds a fresh SQLite file, then prints time, rate, peak RSS
and database size as a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--db", type=Path, help="keep the database here (default: a temp file)")
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to (-1: no pinning)")
    args = parser.parse_args()
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "population.db"
        store = SQLiteCitizenStore(path)
        started = time.perf_counter()
        cpu0 = time.process_time()
        seed_store(store, seed=args.seed, size=args.size, as_of=date(2026, 7, 1))
        store.close()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
    result = {
        "citizens": args.size,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "citizens_per_s": round(args.size / wall),
        "peak_rss_mb": round(peak_mb),
        "db_mb": round(size_mb),
    }
    for key, value in result.items():
        print(f"{key:>16}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
