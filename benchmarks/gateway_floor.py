"""What a gateway answer cannot avoid beyond the registry lookup it forwards, measured in process.

``python -m benchmarks.gateway_floor [--records 20000] [--writers 64]`` (also run by
``bench_gateway_http`` after its rounds)

A signed, durably audited answer costs at least its registry lookup plus (a) one ES256
signature over the answer's bytes (:class:`~services.gateway.signing.ResponseSigner`) and (b)
one record of the hash-chained audit log, group-committed with ``synchronous=FULL``
(:class:`~services.audit.sqlite.AuditLog`, its signed tree heads included). Both are measured
here on CPU 0, where the benchmark's servers run: (a) as the median of back-to-back signatures,
(b) as the CPU time of the whole process (committer thread and kernel included) per record
while ``writers`` coroutines append as exchanges do. A gateway can be at most half as fast as
the registry only if the registry's own CPU per answer is at least (a) + (b) + everything else
the exchange does (token, policy, headers, request hash, its own HTTP request).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvloop

from sim06.services.audit import AuditEntry, AuditLog
from sim06.services.audit.checkpoints import Checkpoints
from sim06.services.bench import pin_cpu
from sim06.services.common.keys import KeyStore
from sim06.services.gateway.profile_json import ALL_LOOKUP_FIELDS
from sim06.services.gateway.signing import ResponseSigner, request_hash


@dataclass(frozen=True, slots=True)
class FloorCosts:
    """Microseconds of CPU per answer: the signature and the durable audit record."""

    sign_us: float
    audit_us: float

    @property
    def total_us(self) -> float:
        return self.sign_us + self.audit_us


def sign_us(body: bytes, keys: KeyStore, n: int = 3000) -> float:
    """Median µs of one detached ES256 JWS over ``body`` (the gateway's signer)."""
    signer = ResponseSigner(keys)
    rqh = request_hash("GET", "/v1/registry/citizens/001090104217", "bench-1", b"")
    samples = []
    for _ in range(n):
        started = time.perf_counter_ns()
        signer.sign(body, rqh)
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1000


def _entry(k: int) -> AuditEntry:
    # What Gateway.record writes for a lookup of the benchmark agency.
    return AuditEntry(
        ts=datetime.now(UTC).isoformat(timespec="microseconds"),
        agency="000.00.12.H30",
        officer="CB.BENCH",
        procedure="BENCH.1",
        purpose="investigation",
        legal_basis="Bo luat To tung hinh su 2015",
        request_id=f"bench-{k}",
        operation="lookup",
        status=200,
        outcome="ok",
        latency_ms=1.234,
        request_hash=f"{k:064x}",
        response_hash=f"{k + 1:064x}",
        pins=[f"{k % 10**12:012d}"],
        fields=ALL_LOOKUP_FIELDS,
    )


def audit_us(directory: Path, records: int = 20_000, writers: int = 64) -> float:
    """CPU µs (all threads, kernel included) per durably committed audit record."""
    keys = KeyStore(directory / "keys" / "audit", alg="ES256")
    checkpoints = Checkpoints(directory / "checkpoints" / "audit.jsonl", keys, "audit")
    log = AuditLog(directory / "audit.db", durable=True, checkpoints=checkpoints)
    per_writer = records // writers

    async def writer(first: int) -> None:
        for k in range(first, first + per_writer):
            await log.append(_entry(k))

    async def run(offset: int) -> None:
        await asyncio.gather(*(writer(offset + w * per_writer) for w in range(writers)))

    try:
        uvloop.run(run(0))  # warm: the file, the tree, the caches
        started = time.process_time()
        uvloop.run(run(records))
        spent = time.process_time() - started
    finally:
        log.close()
    return spent / (per_writer * writers) * 1e6


def measure(body: bytes, records: int = 20_000, writers: int = 64, cpu: int = 0) -> FloorCosts:
    """Both costs on ``cpu`` (the process returns to its former CPUs afterwards)."""
    saved = os.sched_getaffinity(0)
    pin_cpu(0, cpu)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            signing = sign_us(body, KeyStore(root / "keys" / "gateway", alg="ES256"))
            audit = audit_us(root, records, writers)
    finally:
        pin_cpu(0, saved)
    return FloorCosts(signing, audit)


def report(costs: FloorCosts, registry_rps: float, gateway_rps: float, floor: float) -> str:
    """The floor's arithmetic in words: what the ratio allows against what the answer needs."""
    registry = 1e6 / registry_rps  # one saturated core: µs of CPU per answer
    gateway = 1e6 / gateway_rps
    spare = registry / floor - registry
    best = registry / (registry + costs.total_us)
    return (
        f"per answer on one core: registry {registry:.1f} µs, gateway {gateway:.1f} µs. A ratio "
        f"of {floor:.0%} leaves the gateway {spare:.1f} µs beyond the registry's lookup; one "
        f"ES256 signature over the answer takes {costs.sign_us:.1f} µs and one durable audit "
        f"record {costs.audit_us:.1f} µs ({costs.total_us:.1f} µs together), so a signed, "
        f"durably audited answer reaches at most {best:.0%} of the registry's rate, before the "
        f"exchange's own steps (token, policy, request hash, its larger request), which take "
        f"the other {gateway - registry - costs.total_us:.1f} µs."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--writers", type=int, default=64)
    args = parser.parse_args()
    body = b'{"pin":"001090104217","full_name":"' + b"x" * 1500 + b'"}'
    costs = measure(body, args.records, args.writers)
    print(
        f"ES256 signature {costs.sign_us:.1f} µs, durable audit record {costs.audit_us:.1f} µs "
        f"(CPU 0, {args.writers} writers)"
    )


if __name__ == "__main__":
    main()
