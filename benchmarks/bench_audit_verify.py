"""``sim06 audit verify`` on 100,000 records, and what the signed tree heads cost the writer.

``python -m benchmarks.bench_audit_verify [--records 100000] [--rounds 3]``

1. Appends ``--records`` records through :class:`AuditLog` (the gateway's writer: event loop,
   group commit, durable, 256 appends in flight) without and with checkpoints (a signed tree
   head every 1,000 records, the default), ``--rounds`` times each in alternating order (this
   machine's speed drifts), and prints the median records/s of each.
2. Verifies the log with checkpoints ``--rounds`` times as ``sim06 audit verify`` does (heads'
   signatures, their leaves against their roots, every record's chain hash and Merkle leaf
   against the signed leaves) and prints the seconds of each round; also the chain alone.

Everything runs in a temporary directory; prints a table and JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from sim06.services.audit import AuditEntry, AuditLog, verify_chain
from sim06.services.audit.backends import open_audit_log
from sim06.services.audit.commands import verify_log
from sim06.services.common.settings import Settings


def _entry(n: int) -> AuditEntry:
    return AuditEntry(
        ts=f"2026-07-01T10:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}000+07:00",
        agency="000.21.01.H26", officer="CB.H26.0001", procedure="1.004222.000.00.00.H26",
        purpose="residence", legal_basis="Luật Cư trú 2020", request_id=f"bench-{n}",
        operation="lookup", status=200, outcome="ok", latency_ms=1.5,
        request_hash=f"{n:064x}", response_hash="cd" * 32, pins=["001090104217"],
        fields=["pin", "full_name", "permanent_residence"],
    )  # fmt: skip


async def _append(log: AuditLog, records: int, concurrency: int = 256) -> None:
    """``concurrency`` tasks appending durable records, as gateway requests do."""
    counter = iter(range(1, records + 1))

    async def task() -> None:
        for n in counter:
            await log.append(_entry(n))

    await asyncio.gather(*(task() for _ in range(concurrency)))


def _fill(log: AuditLog, records: int) -> float:
    started = time.perf_counter()
    asyncio.run(_append(log, records))
    log.close()
    return records / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sim06-bench-audit-") as tmp:
        rates: dict[str, list[float]] = {"plain": [], "heads": []}
        heads, settings = 0, Settings()
        for n in range(args.rounds):
            for mode in ("heads", "plain") if n % 2 == 0 else ("plain", "heads"):
                data = Path(tmp) / f"{mode}-{n}"
                if mode == "plain":
                    rates[mode].append(_fill(AuditLog(data / "audit.db"), args.records))
                    continue
                settings = Settings(data_dir=data)  # the last log with heads is verified
                log = open_audit_log(settings)
                assert log.checkpoints is not None
                rates[mode].append(_fill(log, args.records))
                heads = len(log.checkpoints.heads)
        plain_rate, rate = (statistics.median(rates[m]) for m in ("plain", "heads"))
        rounds = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            report, _ = verify_log(settings)
            rounds.append(time.perf_counter() - started)
            assert report.ok and report.records == report.anchored == args.records, report
        started = time.perf_counter()
        assert verify_chain(settings.data_dir / "audit.db").ok
        chain_only = time.perf_counter() - started
    result = {
        "records": args.records,
        "append_records_per_s_without_heads": round(plain_rate),
        "append_records_per_s_with_heads": round(rate),
        "append_rounds": {m: [round(r) for r in rates[m]] for m in rates},
        "signed_heads": heads,
        "verify_seconds": [round(s, 2) for s in rounds],
        "verify_seconds_median": round(statistics.median(rounds), 2),
        "chain_only_seconds": round(chain_only, 2),
    }
    print("| Measure | Figure |\n| --- | --- |")
    print(f"| appends/s, no heads | {result['append_records_per_s_without_heads']:,} |")
    print(f"| appends/s, heads every 1,000 ({heads} heads) | {rate:,.0f} |")
    print(f"| sim06 audit verify, {args.records:,} records (s) | {result['verify_seconds']} |")
    print(f"| chain alone (s) | {chain_only:.2f} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
