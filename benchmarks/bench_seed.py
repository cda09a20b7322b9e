"""Seeding throughput and peak memory: ``python benchmarks/bench_seed.py --size 1000000``.

Seeds a fresh SQLite file with ``--workers`` generator processes (default: every core; the
population is the same whatever their number), then prints time, rate, CPU, peak RSS of this
process and of the largest worker, database size and the export digest (SHA-256 of every
record in PIN order, then every e-ID account) as a table and JSON. Issue #20's target: 1M
citizens in at most 15 s on 2 cores, peak memory under 1 GB, the same digest with 1 and 2
workers. ``--cpu N`` pins everything (workers included) to core N.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.seed_workers import default_workers
from sim06.mock_registry.store import SQLiteCitizenStore


def export_digest(store: SQLiteCitizenStore) -> str:
    """SHA-256 of every record in PIN order, then of every e-ID account."""
    h = hashlib.sha256()
    for record in store.records():
        h.update(record)
    for record in store.accounts():
        h.update(record)
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--db", type=Path, help="keep the database here (default: a temp file)")
    parser.add_argument("--cpu", type=int, default=-1, help="core to pin to (-1: no pinning)")
    parser.add_argument("--workers", type=int, default=None, help="default: every core")
    parser.add_argument("--no-digest", action="store_true", help="skip the export digest")
    args = parser.parse_args()
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    workers = args.workers or default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "population.db"
        store = SQLiteCitizenStore(path)
        started = time.perf_counter()
        cpu0 = time.process_time()
        seed_store(store, seed=args.seed, size=args.size, as_of=date(2026, 7, 1), workers=workers)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
        digest = "" if args.no_digest else export_digest(store)
        store.close()
    result = {
        "citizens": args.size,
        "wall_s": round(wall, 1),
        "workers": workers,
        "cpu_s": round(cpu, 1),
        "cpu_s_workers": round(children.ru_utime + children.ru_stime, 1),
        "citizens_per_s": round(args.size / wall),
        "peak_rss_mb": round(peak_mb),
        "peak_rss_mb_worker": round(children.ru_maxrss / 1024),
        "db_mb": round(size_mb),
        "export_sha256": digest[:16],
        "load_average": os.getloadavg()[0],
    }
    for key, value in result.items():
        print(f"{key:>16}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
