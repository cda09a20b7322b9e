"""Domain-fidelity floors of issue #16 over an export: laws by date, 2019 census, as-of date.

Seed a fresh population, export it and check it::

    python scripts/check_domain_fidelity.py --size 100000 --as-of 2026-07-01
    python scripts/check_domain_fidelity.py --size 100000 --as-of 2019-04-01

or check an existing export (``sim06 export`` JSON lines)::

    python scripts/check_domain_fidelity.py --export population.jsonl --as-of 2026-07-01

Prints every figure, then each floor with OK/FAIL; exits 1 when a floor fails. Cards issued
under 6 are also built as real chips (a throwaway PKI) to count DG2 faces on them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from sim06.mock_registry import chip, fidelity
from sim06.mock_registry.pki import Pki
from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.export import export


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as f:
        for line in f:
            yield orjson.loads(line)


def _faces_under_six(records: list[dict[str, Any]], workdir: Path) -> tuple[int, int]:
    """(cards issued under 6, how many of their chips carry a DG2)."""
    young = [r for r in records if r.get("id_card") and not chip.has_face(r)]
    pki = Pki(workdir / "pki")
    return len(young), sum(chip.issue(r, pki).dg2 is not None for r in young)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--export", type=Path, help="JSON-lines export to check")
    parser.add_argument("--size", type=int, default=100_000, help="citizens to seed otherwise")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = args.export
        if path is None:
            started = time.perf_counter()
            db = work / "population.db"
            store = SQLiteCitizenStore(db)
            seed_store(store, seed=args.seed, size=args.size, as_of=args.as_of)
            store.close()
            path = work / "population.jsonl"
            with path.open("wb") as out:
                export(db, out)
            print(f"seeded and exported {args.size} in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)  # fmt: skip
        records = list(_records(path))
        figures = fidelity.measure(records, args.as_of)
        chips_under_six, dg2_faces = _faces_under_six(records, work)
    figures.floors["no DG2 face on chips of cards issued under 6"] = dg2_faces == 0
    data = {k: v for k, v in vars(figures).items() if k != "floors"}
    data.update(as_of=args.as_of.isoformat(), chips_under_6=chips_under_six, dg2_faces=dg2_faces)
    if args.json:
        print(json.dumps({**data, "floors": figures.floors}, ensure_ascii=False, default=str))
    else:
        for key, value in data.items():
            if isinstance(value, dict):
                value = {k: round(v, 4) for k, v in value.items()}
            elif isinstance(value, float):
                value = round(value, 4)
            print(f"{key:>28}: {value}")
        for name, ok in figures.floors.items():
            print(f"{'OK  ' if ok else 'FAIL'} {name}")
    return 0 if all(figures.floors.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
