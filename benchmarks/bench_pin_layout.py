"""What keying the citizens table by PIN would buy a lookup at 10M, and cost a seed.

``python -m benchmarks.bench_pin_layout --dir /tmp/layout [--sizes 10000,10000000]
[--rebuild-from pop1m.db]``

The store appends citizens in generation order (rowid ``id``) and finds a PIN through the
unique index ``citizens_pin``: two B-tree descents per lookup. Keyed by PIN (the PIN as the
rowid) a lookup is one descent, but rows then have to be written in PIN order, and the
generator hands them out in no PIN order (serials are a keyed permutation).

(a) Layouts: for every size, two synthetic files with 2,000-byte records on 16 KiB pages, as the
store writes them: ``idx`` (appended in random PIN order, then the unique index) and ``pin``
(the PIN as rowid, appended in PIN order: the best case of that layout). Then, alternating,
the p50 of ``store.get`` (the read-only store, as bench_lookup_scaling times it: overlay first)
over 5,000 random PINs, warm, on CPU 0.
(b) ``--rebuild-from``: the time to copy a seeded file's citizens into a PIN-keyed table in
PIN order (SQLite's sorter, as a seed's last step would), the cost that layout adds to a seed.

The files are kept in ``--dir`` (10M: about 21 GB each) and reused by a later run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.bench_lookup_scaling import in_process_p50_us
from sim06.services.bench import pin_cpu

LAYOUTS = ("idx", "pin")
RECORD = 2000  # bytes: about a seeded record
_PRIME = 900_000_000_007  # i -> first + i * step mod _PRIME: distinct 12-digit PINs, no order
_STEP = 12_345_678_901


def _pins(n: int) -> Iterator[int]:
    return (10**11 + (i * _STEP) % _PRIME for i in range(n))


def build(path: Path, n: int, layout: str) -> None:
    """A synthetic citizens table of ``n`` rows in ``layout`` (kept if ``path`` exists)."""
    if path.exists():
        return
    filler = random.Random(n).randbytes(2 * RECORD)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA page_size=16384")
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("CREATE TABLE overlay (pin INTEGER PRIMARY KEY, record BLOB)")
        db.execute("BEGIN")
        if layout == "idx":
            db.execute(
                "CREATE TABLE citizens (id INTEGER PRIMARY KEY, pin INTEGER NOT NULL,"
                " household_id INTEGER, record BLOB NOT NULL)"
            )
            rows = ((i + 1, p, i // 3, filler[i % RECORD : i % RECORD + RECORD])
                    for i, p in enumerate(_pins(n)))  # fmt: skip
            db.executemany("INSERT INTO citizens VALUES (?, ?, ?, ?)", rows)
            db.execute("COMMIT")
            db.execute("CREATE UNIQUE INDEX citizens_pin ON citizens(pin)")
        else:
            db.execute(
                "CREATE TABLE citizens (pin INTEGER PRIMARY KEY, household_id INTEGER,"
                " record BLOB NOT NULL)"
            )
            rows2 = ((p, i // 3, filler[i % RECORD : i % RECORD + RECORD])
                     for i, p in enumerate(sorted(_pins(n))))  # fmt: skip
            db.executemany("INSERT INTO citizens VALUES (?, ?, ?)", rows2)
            db.execute("COMMIT")
    except BaseException:
        db.close()
        path.unlink()
        raise
    db.close()


def sample(path: Path, k: int = 5000) -> list[str]:
    """``k`` random PINs of the file, as the store is asked for them."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT pin FROM citizens ORDER BY random() LIMIT ?", (k,)).fetchall()
    db.close()
    return [f"{pin:012d}" for (pin,) in rows]


def rebuild_s(source: Path, target: Path) -> float:
    """Seconds to copy ``source``'s citizens into a PIN-keyed table of ``target`` in PIN order."""
    target.unlink(missing_ok=True)
    db = sqlite3.connect(source, isolation_level=None)
    try:
        db.execute("PRAGMA cache_size=-2048")  # the store's LOAD_CACHE_KIB
        db.execute("ATTACH ? AS bypin", (str(target),))
        db.execute("PRAGMA bypin.page_size=16384")
        db.execute("PRAGMA bypin.journal_mode=OFF")
        db.execute("PRAGMA bypin.synchronous=OFF")
        db.execute("PRAGMA threads=2")  # the sorter's helper thread, as finish_load uses
        db.execute(
            "CREATE TABLE bypin.citizens (pin INTEGER PRIMARY KEY, cmnd TEXT,"
            " household_id INTEGER, birth_year INTEGER NOT NULL, record BLOB NOT NULL)"
        )
        started = time.perf_counter()
        db.execute("BEGIN")
        db.execute(
            "INSERT INTO bypin.citizens SELECT pin, cmnd, household_id, birth_year, record"
            " FROM main.citizens NOT INDEXED ORDER BY pin"
        )
        db.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        db.close()
        target.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, required=True, help="where the synthetic files live")
    parser.add_argument("--sizes", default="10000,10000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rebuild-from", type=Path, help="a seeded file to time the copy of")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    pin_cpu(os.getpid(), 0)
    report: dict[str, float] = {}
    files = {(n, layout): args.dir / f"{layout}_{n}.db" for n in sizes for layout in LAYOUTS}
    for (n, layout), path in files.items():
        started = time.perf_counter()
        build(path, n, layout)
        print(f"{path.name}: {path.stat().st_size / 2**20:,.0f} MiB"
              f" ({time.perf_counter() - started:.1f} s)", flush=True)  # fmt: skip
    pins = {key: sample(path) for key, path in files.items()}
    p50s: dict[tuple[int, str], list[float]] = {key: [] for key in files}
    for _ in range(args.repeats):  # alternating, so that the machine's noise hits each alike
        for key, path in files.items():
            p50s[key].append(in_process_p50_us(path, pins[key]))
    for (n, name), values in p50s.items():
        report[f"{name}_{n}_p50_us"] = round(statistics.median(values), 2)
    small, large = min(sizes), max(sizes)
    for name in LAYOUTS:
        low, high = report[f"{name}_{small}_p50_us"], report[f"{name}_{large}_p50_us"]
        report[f"{name}_extra_us"] = round(high - low, 2)
        report[f"{name}_ratio"] = round(high / low, 3)
    if args.rebuild_from is not None:
        report["rebuild_s"] = round(rebuild_s(args.rebuild_from, args.dir / "rebuilt.db"), 2)
    for label, value in report.items():
        print(f"{label:>24}: {value}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
