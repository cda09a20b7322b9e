"""Civil-status events over HTTP: births through the gateway and the change feed.

``python -m benchmarks.bench_events_http [--size 100000] [--rounds 3] [--duration 5]
[--connections 16,64] [--feed-connections 16] [--postgres-url URL | --no-postgres]``

Floors: births through the gateway >= 1,000/s, feed reads >= 20,000 changes/s, with SQLite and
with PostgreSQL. For each backend a gateway (in-process registry: policy, pydantic validation,
the birth's decision and its store transaction, durable group-committed audit append, ES256
detached JWS) and a registry each run on one uvicorn worker pinned to CPU 0; the project's load
generator is pinned to CPU 1. PostgreSQL (``--postgres-url``, default ``SIM06_TEST_POSTGRES_URL``:
``eval "$(bash scripts/start-backends.sh)"``) gets a throwaway database seeded like the SQLite
file and dropped at the end; its server is not pinned (it runs where the OS puts it).

Each round measures, for each backend in turn:

* births: ``POST /v1/registry/births`` at every connection count, each request with a fresh
  MaYeuCau (the idempotency key) and a distinct child (given name ``Bench<n>``) of a mother drawn
  from the seeded women aged 18-45 who are alive, so no birth is a duplicate. Every answer
  must be 201.
* feed reads: ``GET /v1/registry/changes?after=<random cursor>&limit=1000`` through the gateway
  and ``GET /v1/changes?after=...&limit=1000`` on the registry's own port. Cursors are drawn in
  ``[0, head - 1000]``, so every page is full: changes/s = items returned per second =
  1000 x requests/s (checked on sample pages before the run).

The benchmark agency (``register-birth: "*"`` and ``changes: "*"``, a quota that never
throttles) is written to a temporary agencies file; its secret is a throwaway. p50/p99 are per
request. "server CPU" is the server process's CPU time over the measured run per request
(PostgreSQL's own CPU is not in it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import statistics
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from benchmarks.bench_registry_http import ensure_db
from sim06.mock_registry.store import CitizenStore, SQLiteCitizenStore
from sim06.services.audit import verify_chain
from sim06.services.bench import (
    LoadResult,
    ServerProcess,
    encode_request,
    pin_cpu,
    run_load,
    start_uvicorn as start_server,
)

AS_OF = date(2026, 7, 1)
BIRTHS_FLOOR = 1_000.0  # births per second
FEED_FLOOR = 20_000.0  # changes per second
FEED_LIMIT = 1000
BA_DINH = "00004"
CODE = "000.00.99.H26"
AGENCY: dict[str, Any] = {
    "code": CODE,
    "name": "Benchmark civil-status office",
    "client_id": "bench-events",
    "quota_per_minute": 1_000_000,
    "procedures": [{
        "code": "BENCH.EV.1",
        "purposes": {"birth-registration": {"grants": {"register-birth": "*", "changes": "*"}}},
    }],
    "officers": [{"code": "CB.BENCH", "permissions": ["BENCH.EV.1"]}],
}  # fmt: skip
FIRST_DAY = date(2026, 1, 1)
DAYS = 330  # children born 2026-01-01 .. 2026-11-26: never in the future, never 12-year-olds


def mothers_of(store: CitizenStore, as_of: date = AS_OF) -> list[str]:
    """PINs of the women aged 18-45 at ``as_of`` who are alive, in PIN order."""
    found = []
    for raw in store.records():
        record = orjson.loads(raw)
        if record["sex"] != "female" or record["status"] != "alive":
            continue
        if record["date_of_birth"] is None:  # only the birth year is known: not a mother here
            continue
        born = date.fromisoformat(record["date_of_birth"])
        age = as_of.year - born.year - ((as_of.month, as_of.day) < (born.month, born.day))
        if 18 <= age <= 45:
            found.append(record["pin"])
    return found


def birth_body(n: int, mother: str) -> bytes:
    """A birth whose child (``Bench<n>``) no other ``n`` gives: never a duplicate."""
    return orjson.dumps({
        "child": {
            "name": {"family": "Nguyễn", "middle": "Minh", "given": f"Bench{n}"},
            "sex": "female" if n % 2 else "male",
            "date_of_birth": (FIRST_DAY + timedelta(days=n % DAYS)).isoformat(),
            "place_of_birth": "Bệnh viện Phụ sản Hà Nội",
        },
        "mother_pin": mother,
        "registration_commune_code": BA_DINH,
    })  # fmt: skip


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Measured:
    """One run: the load result, server CPU per request (µs) and items per request."""

    load: LoadResult
    cpu_us: float
    per_request: int = 1

    @property
    def rate(self) -> float:
        """Births per second, or changes per second for the feed."""
        return self.load.rps * self.per_request

    def to_dict(self) -> dict[str, Any]:
        return {**self.load.to_dict(), "cpu_us": self.cpu_us, "rate": self.rate}


def measure(
    server: ServerProcess, factory: Callable[[int], bytes], conns: int, duration: float,
    per_request: int = 1, warmup: float = 1.0,
) -> Measured:  # fmt: skip
    """Run the load generator against ``server`` and count its CPU time meanwhile.

    The CPU count includes the warmup second; it is divided by the requests of the whole run
    (warmup included, estimated at the measured rate)."""
    before = _cpu_seconds(server.pid)
    load = run_load(
        "127.0.0.1", server.port, factory, connections=conns, duration=duration, warmup=warmup,
        timeout=30.0,
    )  # fmt: skip
    spent = _cpu_seconds(server.pid) - before
    total = load.requests * (duration + warmup) / max(load.duration_s, 1e-9)
    return Measured(load, spent / max(total, 1) * 1e6, per_request)


@dataclass
class Backend:
    """One backend's gateway and registry, and how to read its feed head."""

    name: str
    gateway: ServerProcess
    registry: ServerProcess
    head: Callable[[], int]
    headers: dict[str, str]


@contextlib.contextmanager
def postgres_database(admin_url: str, size: int) -> Iterator[str]:
    """A throwaway database seeded like the SQLite file; dropped on exit."""
    import psycopg

    from sim06.mock_registry.store.postgres import seed_postgres

    name = "sim06_bench_events_" + secrets.token_hex(4)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    try:
        seed_postgres(url, seed=6, size=size, as_of=AS_OF)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _feed_head_sqlite(path: Path) -> Callable[[], int]:
    def head() -> int:
        store = SQLiteCitizenStore(path, readonly=True)
        try:
            return store.feed_head()
        finally:
            store.close()

    return head


def _feed_head_postgres(url: str) -> Callable[[], int]:
    def head() -> int:
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()
        return int(row[0]) if row else 0

    return head


def _token(gateway: ServerProcess, secret: str) -> str:
    r = httpx.post(
        f"{gateway.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(AGENCY["client_id"], secret),
    )
    r.raise_for_status()
    token: str = r.json()["access_token"]
    return token


def check_feed(backend: Backend) -> None:
    """Sample pages through both doors: full, gap-free pages whose cursors follow ``after``."""
    head = backend.head()
    rng = random.Random(head)
    for _ in range(3):
        after = rng.randint(0, head - FEED_LIMIT)
        query = f"after={after}&limit={FEED_LIMIT}"
        for url, headers in (
            (f"{backend.gateway.url}/v1/registry/changes?{query}",
             {**backend.headers, "X-MaYeuCau": f"check-{secrets.token_hex(8)}"}),
            (f"{backend.registry.url}/v1/changes?{query}", {}),
        ):  # fmt: skip
            r = httpx.get(url, headers=headers, timeout=30)
            assert r.status_code == 200, (url, r.status_code, r.text[:300])
            page = r.json()
            cursors = [int(item["cursor"]) for item in page["items"]]
            assert cursors == list(range(after + 1, after + FEED_LIMIT + 1)), url
            assert page["next_cursor"] == str(after + FEED_LIMIT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000, help="seeded population")
    parser.add_argument("--db", type=Path, help="a seeded SQLite file to copy (default: seed)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", default="16,64", help="births: connection counts")
    parser.add_argument("--feed-connections", type=int, default=16)
    parser.add_argument("--postgres-url", default=os.environ.get("SIM06_TEST_POSTGRES_URL"))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", type=Path, help="write every run's figures there too")
    args = parser.parse_args()
    levels = [int(c) for c in args.connections.split(",")]
    tmp = tempfile.TemporaryDirectory(prefix="sim06-bench-events-")
    root = Path(tmp.name)
    seeded = args.db or root / "seeded.db"
    ensure_db(seeded, args.size)
    db = root / "population.db"
    shutil.copyfile(seeded, db)  # births write the overlay: never into the --db file
    store = SQLiteCitizenStore(db, readonly=True)
    mothers = mothers_of(store)
    store.close()
    print(f"population {args.size:,}: {len(mothers):,} mothers (women 18-45, alive)", flush=True)
    secret = secrets.token_urlsafe(24)
    agencies = root / "agencies.yaml"
    agencies.write_text(
        yaml.safe_dump({"agencies": [{**AGENCY, "client_secret": secret}]}), "utf-8"
    )
    common_env = {
        "SIM06_GATEWAY_AGENCIES_FILE": str(agencies),
        "SIM06_GATEWAY_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "SIM06_GATEWAY_TOKEN_TTL": "3600",
        "SIM06_POPULATION_SIZE": str(args.size),
    }
    pg_url = None if args.no_postgres else args.postgres_url
    if pg_url is None:
        print("PostgreSQL: skipped (no --postgres-url / SIM06_TEST_POSTGRES_URL)", flush=True)
    pin_cpu(os.getpid(), 1)
    with contextlib.ExitStack() as stack:
        backends: list[Backend] = []

        def start(name: str, env: dict[str, str], head: Callable[[], int]) -> None:
            servers = {}
            for app in ("gateway", "registry"):
                servers[app] = stack.enter_context(
                    start_server(
                        f"sim06.services.asgi:{app}", factory=True, cpus={0},
                        health_path="/healthz",
                        env={**common_env, **env, "SIM06_DATA_DIR": str(root / f"{name}-{app}")},
                    )
                )  # fmt: skip
            token = _token(servers["gateway"], secret)
            headers = {
                "Authorization": f"Bearer {token}", "X-Road-Client": CODE,
                "X-MaDVC": "BENCH.EV.1", "X-MaCanBo": "CB.BENCH",
                "X-Purpose": "birth-registration", "X-Legal-Basis": "Luat Ho tich 2014",
            }  # fmt: skip
            backends.append(Backend(name, servers["gateway"], servers["registry"], head, headers))

        # An empty SIM06_DATABASE_URL: a PostgreSQL URL in the caller's shell must not leak in.
        start("sqlite", {"SIM06_DB_PATH": str(db), "SIM06_DATABASE_URL": ""}, _feed_head_sqlite(db))
        if pg_url is not None:
            url = stack.enter_context(postgres_database(pg_url, args.size))
            print("PostgreSQL: seeded a throwaway database", flush=True)
            start("postgres", {"SIM06_DATABASE_URL": url}, _feed_head_postgres(url))
        runs: list[dict[str, Any]] = []
        offset = 0
        n_mothers = len(mothers)
        for i in range(args.rounds):
            for backend in backends:
                for conns in levels:
                    base, offset = offset, offset + 10_000_000
                    fixed = {**backend.headers, "Content-Type": "application/json"}

                    def births(k: int, b: int = base, h: dict[str, str] = fixed) -> bytes:
                        n = b + k
                        body = birth_body(n, mothers[n % n_mothers])
                        return encode_request(
                            "POST", "/v1/registry/births", host="127.0.0.1",
                            headers={**h, "X-MaYeuCau": f"ks-{n}"}, body=body,
                        )  # fmt: skip

                    m = measure(backend.gateway, births, conns, args.duration)
                    ok = m.load.status_counts.get(201, 0) == m.load.requests and not m.load.errors
                    runs.append({"round": i + 1, "backend": backend.name, "what": "births",
                                 "connections": conns, "all_201": ok, **m.to_dict()})  # fmt: skip
                    _print(i, backend.name, f"births, {conns} conns", m, "births/s", ok)
                head = backend.head()
                if i == 0:
                    check_feed(backend)
                rng = random.Random(head)
                cursors = [rng.randint(0, head - FEED_LIMIT) for _ in range(4096)]
                base, offset = offset, offset + 10_000_000
                h = backend.headers

                def via_gateway(
                    k: int, b: int = base, h: dict[str, str] = h, cursors: list[int] = cursors
                ) -> bytes:
                    path = f"/v1/registry/changes?after={cursors[k % 4096]}&limit={FEED_LIMIT}"
                    return encode_request(
                        "GET", path, host="127.0.0.1", headers={**h, "X-MaYeuCau": f"f-{b + k}"}
                    )

                direct = [
                    encode_request("GET", f"/v1/changes?after={c}&limit={FEED_LIMIT}",
                                   host="127.0.0.1")
                    for c in cursors
                ]  # fmt: skip
                for what, server, factory in (
                    ("feed via gateway", backend.gateway, via_gateway),
                    ("feed on registry", backend.registry, lambda k, d=direct: d[k % 4096]),
                ):
                    m = measure(server, factory, args.feed_connections, args.duration, FEED_LIMIT)
                    ok = m.load.status_counts.get(200, 0) == m.load.requests and not m.load.errors
                    runs.append({"round": i + 1, "backend": backend.name, "what": what,
                                 "connections": args.feed_connections, "head": head,
                                 "all_200": ok, **m.to_dict()})  # fmt: skip
                    _print(i, backend.name, f"{what} (head {head:,})", m, "changes/s", ok)
        heads = {b.name: b.head() for b in backends}
        chains = {"sqlite": verify_chain(root / "sqlite-gateway" / "audit.db")}
        if pg_url is not None:  # before the throwaway database is dropped
            from sim06.services.audit.postgres import verify_postgres

            chains["postgres"] = verify_postgres(url)
    summary = _summary(runs)
    print()
    print(f"{'backend':<9} {'measure':<22} {'conns':>5} {'median rate':>12} {'best':>10} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'cpu µs':>7}  floor")  # fmt: skip
    verdicts = []
    for row in summary:
        floor = BIRTHS_FLOOR if row["what"] == "births" else FEED_FLOOR
        unit = "births/s" if row["what"] == "births" else "changes/s"
        met = row["median"] >= floor
        verdicts.append((row, met, floor, unit))
        print(f"{row['backend']:<9} {row['what']:<22} {row['connections']:>5} "
              f"{row['median']:>12,.0f} {row['best']:>10,.0f} {row['p50']:>7.2f} "
              f"{row['p99']:>7.2f} {row['cpu']:>7.0f}  {'met' if met else 'NOT met'} "
              f"(>= {floor:,.0f} {unit})")  # fmt: skip
    print()
    # The headline, as in bench_gateway_http: a service's throughput is its peak over the
    # connection counts (a group commit needs requests in flight: births share a commit, so at
    # 16 connections a batch holds fewer of them); each door of the feed must meet its floor.
    for backend in dict.fromkeys(r["backend"] for r in summary):
        counts = [r for r in summary if r["backend"] == backend and r["what"] == "births"]
        if counts:
            peak = max(counts, key=lambda r: r["median"])
            low = min(counts, key=lambda r: r["median"])
            print(f"{backend}: births floor {BIRTHS_FLOOR:,.0f} births/s: "
                  f"{'met' if peak['median'] >= BIRTHS_FLOOR else 'NOT met'} "
                  f"(peak median {peak['median']:,.0f} at {peak['connections']} connections; "
                  f"{low['median']:,.0f} at {low['connections']})")  # fmt: skip
        feeds = [r for r in summary if r["backend"] == backend and r["what"].startswith("feed")]
        if feeds:
            worst = min(feeds, key=lambda r: r["median"])
            print(f"{backend}: feed floor {FEED_FLOOR:,.0f} changes/s: "
                  f"{'met' if worst['median'] >= FEED_FLOOR else 'NOT met'} "
                  f"(lowest median {worst['median']:,.0f}, {worst['what']})")  # fmt: skip
    bad = [r for r in runs if not r.get("all_201", r.get("all_200", False))]
    print(f"runs with a non-2xx answer or an error: {len(bad)}")
    print(f"feed heads at the end: {heads}")
    for name, report in chains.items():
        print(f"{name} gateway audit chain after the run: ok={report.ok} records={report.records}")
    if args.json is not None:
        args.json.write_text(json.dumps({"runs": runs, "summary": summary}, default=str))
    tmp.cleanup()


def _print(i: int, backend: str, what: str, m: Measured, unit: str, ok: bool) -> None:
    r = m.load
    status = " ".join(f"{k}:{v}" for k, v in r.status_counts.items())
    errors = f" errors {r.errors}" if r.errors else ""
    print(
        f"round {i + 1} {backend:<8} {what:<34} {m.rate:>9,.0f} {unit} ({r.rps:,.0f} rps, "
        f"p50 {r.p50_ms:.2f} p99 {r.p99_ms:.2f} ms, server CPU {m.cpu_us:.0f} µs/req) "
        f"[{status}]{errors}{'' if ok else ' NOT ALL OK'}",
        flush=True,
    )


def _summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (backend, measure, connections): median and best rate, median p50/p99 and CPU."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["backend"], r["what"], r["connections"]), []).append(r)
    return [
        {
            "backend": backend,
            "what": what,
            "connections": conns,
            "median": statistics.median(r["rate"] for r in mine),
            "best": max(r["rate"] for r in mine),
            "p50": statistics.median(r["p50_ms"] for r in mine),
            "p99": statistics.median(r["p99_ms"] for r in mine),
            "cpu": statistics.median(r["cpu_us"] for r in mine),
        }  # fmt: skip
        for (backend, what, conns), mine in groups.items()
    ]


if __name__ == "__main__":
    main()
