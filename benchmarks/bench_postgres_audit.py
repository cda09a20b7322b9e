"""Audit appends per second: the SQLite file (one writer) against PostgreSQL (1 and 2 writers).

``python benchmarks/bench_postgres_audit.py --url URL [--seconds 5] [--concurrency 64]``

Each writer is a process with an event loop and ``--concurrency`` tasks appending durable
records in a loop (each awaits its commit, as a gateway request does), so group commit batches
whatever is in flight. PostgreSQL runs in a throwaway database ``sim06_bench_audit``; the
writers of the 2-writer run append to ONE chain (head row locked per transaction). Rounds
alternate between the three set-ups; the chains are verified afterwards. Prints records/s and
records per transaction of each, as a table and JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from sim06.services.audit import AuditEntry, AuditLog, verify_chain
from sim06.services.audit.postgres import PostgresAuditLog, verify_postgres


def _entry(n: int) -> AuditEntry:
    return AuditEntry(
        ts="2026-07-01T10:00:00+07:00", agency="000.21.01.H26", officer="CB.H26.0001",
        procedure="1.004222.000.00.00.H26", purpose="residence", legal_basis="Luật Cư trú 2020",
        request_id=f"bench-{n}", operation="lookup", status=200, outcome="ok", latency_ms=1.5,
        request_hash="ab" * 32, response_hash="cd" * 32, pins=["001090104217"], fields=["pin"],
    )  # fmt: skip


def _writer(
    backend: str, target: str, seconds: float, concurrency: int, start: float
) -> tuple[int, int]:
    """(records, transactions) appended by this process until ``start + seconds``."""
    log: AuditLog
    transactions = 0
    if backend == "postgres":
        log = pg = PostgresAuditLog(target)
        inner = pg._commit

        def counting(batch: list[AuditEntry]) -> tuple[int, str]:
            nonlocal transactions
            transactions += 1 if batch else 0
            return inner(batch)

        pg._commit = counting  # type: ignore[method-assign]
    else:
        log = AuditLog(Path(target))

    async def run() -> int:
        done = 0
        while time.time() < start:
            await asyncio.sleep(0.005)
        end = start + seconds

        async def task() -> None:
            nonlocal done
            while time.time() < end:
                await log.append(_entry(done))
                done += 1

        await asyncio.gather(*(task() for _ in range(concurrency)))
        return done

    try:
        records = asyncio.run(run())
    finally:
        log.close()
    return records, transactions


def run_setup(
    backend: str, target: str, writers: int, seconds: float, concurrency: int
) -> tuple[float, float]:
    """(records/s, records per transaction or 0 if not counted) of one round."""
    start = time.time() + 1.0
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(writers) as pool:
        results = pool.starmap(_writer, [(backend, target, seconds, concurrency, start)] * writers)
    records = sum(r for r, _ in results)
    transactions = sum(t for _, t in results)
    return records / seconds, (records / transactions if transactions else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="postgresql://user:pw@host:port/db")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    name = "sim06_bench_audit"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    pg_url = psycopg.conninfo.make_conninfo(args.url, dbname=name)
    PostgresAuditLog(pg_url).close()  # the schema, before the writers race to create it
    rates: dict[str, list[float]] = {"sqlite, 1 writer": [], "postgres, 1 writer": [],
                                     "postgres, 2 writers": []}  # fmt: skip
    per_tx: dict[str, list[float]] = {k: [] for k in rates}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_path = str(Path(tmp) / "audit.db")
        setups = {"sqlite, 1 writer": ("sqlite", sqlite_path, 1),
                  "postgres, 1 writer": ("postgres", pg_url, 1),
                  "postgres, 2 writers": ("postgres", pg_url, 2)}  # fmt: skip
        for _ in range(args.rounds):
            for label, (backend, target, writers) in setups.items():
                rate, batch = run_setup(backend, target, writers, args.seconds, args.concurrency)
                rates[label].append(rate)
                per_tx[label].append(batch)
        sqlite_ok = verify_chain(Path(sqlite_path))
    pg_ok = verify_postgres(pg_url)
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    result = {
        label: {
            "records_per_s": round(statistics.median(values)),
            "records_per_transaction": round(statistics.median(per_tx[label]), 1),
        }
        for label, values in rates.items()
    }
    result["chains"] = {
        "sqlite_ok": sqlite_ok.ok, "sqlite_records": sqlite_ok.records,
        "postgres_ok": pg_ok.ok, "postgres_records": pg_ok.records,
    }  # fmt: skip
    for label, values in result.items():
        print(f"{label:>22}: {values}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
