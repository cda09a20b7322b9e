"""Lookup latency in PostgreSQL does not grow with population size: p50 of ``store.get``.

``python -m benchmarks.bench_postgres_lookup --url URL --small 100000 --large 1000000 [--http]``

Reads the databases ``sim06_bench_<size>`` made by bench_postgres_seed.py, samples PINs from
each, warms both (we compare index depth and heap layout, not the disk), then times
``PostgresCitizenStore.get`` in process, alternating rounds between the two, and prints the p50
and p99 of each and the ratio large/small of the p50s. The bytes returned are checked against
the PIN asked for. With ``--http`` it also serves the registry over each database (one uvicorn
worker on CPU 0, ``SIM06_DATABASE_URL``; the project's load generator on CPU 1, 16 connections,
alternating rounds) and reports the HTTP p50 of each and their ratio, as
bench_lookup_scaling.py does for SQLite.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time

import orjson
import psycopg

from benchmarks.bench_lookup_scaling import http_p50s
from sim06.mock_registry.store.postgres import PostgresCitizenStore


def sample_pins(url: str, n: int, seed: int = 1) -> list[str]:
    """``n`` PINs spread over the table (a repeatable Bernoulli sample of its rows)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT reltuples FROM pg_class WHERE relname = 'citizens'").fetchone()
        total = max(1, int(row[0])) if row else 1
        percent = min(100.0, 300.0 * n / total)
        rows = conn.execute(
            f"SELECT pin FROM citizens TABLESAMPLE BERNOULLI ({percent}) REPEATABLE ({seed})"
        ).fetchall()
    pins = [f"{r[0]:012d}" for r in rows]
    random.Random(seed).shuffle(pins)
    return pins[:n]


def timed_round(store: PostgresCitizenStore, pins: list[str]) -> list[int]:
    samples = []
    for pin in pins:
        t = time.perf_counter_ns()
        record = store.get(pin)
        samples.append(time.perf_counter_ns() - t)
        assert record is not None and orjson.loads(record)["pin"] == pin
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="postgresql://user:pw@host:port/db")
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--pins", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--http", action="store_true", help="also measure lookups over HTTP")
    parser.add_argument("--http-rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of each HTTP round")
    args = parser.parse_args()
    urls = {
        name: psycopg.conninfo.make_conninfo(args.url, dbname=f"sim06_bench_{size}")
        for name, size in (("small", args.small), ("large", args.large))
    }
    stores = {name: PostgresCitizenStore(url, pool_size=1) for name, url in urls.items()}
    pins = {name: sample_pins(url, args.pins) for name, url in urls.items()}
    samples: dict[str, list[int]] = {name: [] for name in urls}
    for name, store in stores.items():
        timed_round(store, pins[name])  # warm-up: page cache, prepared statement
    for _ in range(args.rounds):
        for name, store in stores.items():
            samples[name] += timed_round(store, pins[name])
    report: dict[str, float | int] = {"small": args.small, "large": args.large}
    for name, values in samples.items():
        values.sort()
        report[f"{name}_p50_us"] = round(statistics.median(values) / 1000, 1)
        report[f"{name}_p99_us"] = round(values[int(len(values) * 0.99)] / 1000, 1)
    report["ratio_p50_large_small"] = round(
        float(report["large_p50_us"]) / float(report["small_p50_us"]), 3
    )
    for store in stores.values():
        store.close()
    if args.http:
        with tempfile.TemporaryDirectory() as data_dir:
            envs = {
                name: {"SIM06_DATABASE_URL": url, "SIM06_DATA_DIR": data_dir}
                for name, url in urls.items()
            }
            p50s = http_p50s(envs, pins, args.http_rounds, args.duration)
        for name, rates in p50s.items():
            report[f"{name}_http_p50_ms"] = round(statistics.median(rates), 3)
        report["http_ratio_large_small"] = round(
            statistics.median(p50s["large"]) / statistics.median(p50s["small"]), 3
        )
    for key, value in report.items():
        print(f"{key:>22}: {value}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
