"""Seeding PostgreSQL: ``python benchmarks/bench_postgres_seed.py --url URL --size 1000000``.

Creates the database ``sim06_bench_<size>`` on the server of ``--url`` (a role with CREATEDB,
e.g. the one scripts/start-backends.sh makes), seeds it with ``seed_postgres`` (binary COPY per
batch, indexes built after the load), then prints wall time, rate, peak RSS of this process and
the sizes on disk (database, table with TOAST, each index) as a table and JSON. The database is
kept for bench_postgres_lookup.py unless ``--drop``; an existing one is replaced.
``--workers`` generator processes (default: every core) feed the COPY writer.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from datetime import date

import psycopg

from sim06.mock_registry.seed_workers import default_workers
from sim06.mock_registry.store.postgres import seed_postgres


def database_url(admin_url: str, name: str, *, recreate: bool) -> str:
    """Conninfo of database ``name`` next to ``admin_url``'s, created (afresh if asked)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if recreate:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return psycopg.conninfo.make_conninfo(admin_url, dbname=name)


def sizes_mb(url: str) -> dict[str, float]:
    """Database, table (heap + TOAST) and index sizes in MiB."""
    with psycopg.connect(url) as conn:
        out = {
            "database_mb": conn.execute("SELECT pg_database_size(current_database())").fetchone(),
            "table_mb": conn.execute("SELECT pg_table_size('citizens')").fetchone(),
        }
        for name, size in conn.execute(
            "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes"
            " WHERE relname = 'citizens' ORDER BY indexrelname"
        ):
            out[f"{name}_mb"] = (size,)
    return {k: round(int(v[0]) / 2**20, 1) for k, v in out.items() if v is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="postgresql://user:pw@host:port/db")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--drop", action="store_true", help="drop the database afterwards")
    parser.add_argument("--workers", type=int, default=None, help="default: every core")
    args = parser.parse_args()
    name = f"sim06_bench_{args.size}"
    url = database_url(args.url, name, recreate=True)
    started = time.perf_counter()
    cpu0 = time.process_time()
    workers = args.workers or default_workers()
    done = seed_postgres(
        url, seed=args.seed, size=args.size, as_of=date(2026, 7, 1), workers=workers
    )
    wall = time.perf_counter() - started
    assert done is not None
    result: dict[str, object] = {
        "database": name,
        "citizens": args.size,
        "wall_s": round(wall, 1),
        "workers": workers,
        "cpu_s_client": round(time.process_time() - cpu0, 1),
        "cpu_s_workers": round(sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]), 1),
        "citizens_per_s": round(args.size / wall),
        "peak_rss_mb_client": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **sizes_mb(url),
        "load_average": os.getloadavg()[0],
    }
    if args.drop:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
