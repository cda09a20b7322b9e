"""SOAP through the gateway: ``XacThucThongTinCongDan`` and ``TraCuuThongTinCongDan`` at
``POST /soap/dancu`` (issue #18: the cost of validating envelopes against the XSD).

``python -m benchmarks.bench_soap_http [--db PATH] [--size N] [--rounds 3] [--duration 5]
[--connections 16] [--parse-only]``

The gateway (in-process registry behind it, durable audit) runs on one uvicorn worker pinned to
CPU 0; the project's load generator is pinned to CPU 1. Every request carries a fresh
``MaYeuCau`` and a PIN drawn from the database, with a Bearer token of a throwaway benchmark
agency. ``--parse-only`` times :func:`services.gateway.soap.parse` alone (lxml parse, XSD
validation, extraction) and the validation on its own, in this process. The throughput counts
200 answers only; other statuses (503 load shedding, 410 cancelled PINs) are printed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import timeit
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import yaml

from benchmarks.bench_registry_http import ensure_db, sample_pins
from sim06.services.bench import encode_request, pin_cpu, run_load, start_uvicorn

AGENCY: dict[str, Any] = {
    "code": "000.00.12.H30",
    "name": "Benchmark police unit",
    "client_id": "bench",
    "quota_per_minute": 1_000_000,
    "default_procedure": "BENCH.1",
    "procedures": [
        {"code": "BENCH.1", "purposes": {"investigation": {"grants": {"lookup": "*",
                                                                       "verify": "*"}}}}
    ],
    "officers": [{"code": "CB.BENCH", "permissions": ["BENCH.1"]}],
}  # fmt: skip


def xac_thuc(request_id: str, pin: str) -> bytes:
    """The observed XacThucThongTinCongDan envelope (domain §6.3)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:dan="http://dancuquocgia.bca"><soapenv:Header/><soapenv:Body>'
        f"<dan:XacThucThongTinCongDanRequest><dan:MaYeuCau>{request_id}</dan:MaYeuCau>"
        "<dan:MaDichVu>033</dan:MaDichVu><dan:MaCanBo>CB.BENCH</dan:MaCanBo>"
        f"<dan:SoDinhDanh>{pin}</dan:SoDinhDanh><dan:SoCMND></dan:SoCMND>"
        "<dan:HoVaTen>NGUYEN VAN AN</dan:HoVaTen></dan:XacThucThongTinCongDanRequest>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def tra_cuu(request_id: str, pin: str) -> bytes:
    """The observed TraCuuThongTinCongDan envelope."""
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:dan="http://dancuquocgia.bca"><soapenv:Body><dan:TraCuuThongTinCongDan>'
        f"<dan:MaYeuCau>{request_id}</dan:MaYeuCau><dan:MaDVC>BENCH.1</dan:MaDVC>"
        "<dan:MaTichHop>037</dan:MaTichHop><dan:MaCanBo>CB.BENCH</dan:MaCanBo>"
        f"<dan:MaDonVi>{AGENCY['code']}</dan:MaDonVi><dan:SoDinhDanh>{pin}</dan:SoDinhDanh>"
        "<dan:HoVaTen>NGUYEN VAN AN</dan:HoVaTen><dan:NgayThangNamSinh><dan:Nam>1990</dan:Nam>"
        "</dan:NgayThangNamSinh></dan:TraCuuThongTinCongDan></soapenv:Body></soapenv:Envelope>"
    ).encode()


def parse_only(number: int = 20_000) -> None:
    """Microseconds per :func:`soap.parse` of each observed envelope (best of 5), and of the
    XSD validation alone (:func:`soap_schema.validate` of the parsed envelope)."""
    from lxml import etree

    from sim06.services.gateway import soap, soap_schema

    for name, body in (("XacThuc", xac_thuc("p-1", "001090104217")),
                       ("TraCuu", tra_cuu("p-2", "001090104217"))):  # fmt: skip
        best = min(timeit.repeat(partial(soap.parse, body), number=number, repeat=5))
        root = etree.fromstring(body, soap_schema.safe_parser())
        check = min(timeit.repeat(partial(soap_schema.validate, root), number=number, repeat=5))
        print(
            f"parse {name}: {best / number * 1e6:.1f} µs per envelope, of which XSD validation "
            f"{check / number * 1e6:.1f} µs",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--parse-only", action="store_true")
    args = parser.parse_args()
    if args.parse_only:
        parse_only()
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = args.db or root / "population.db"
        ensure_db(db, args.size)
        pins = sample_pins(db)
        secret = secrets.token_urlsafe(24)
        (root / "agencies.yaml").write_text(
            yaml.safe_dump({"agencies": [{**AGENCY, "client_secret": secret}]}), "utf-8"
        )
        env = {
            "SIM06_DB_PATH": str(db),
            "SIM06_DATA_DIR": str(root / "gateway"),
            "SIM06_GATEWAY_AGENCIES_FILE": str(root / "agencies.yaml"),
            "SIM06_GATEWAY_ADMIN_TOKEN": secrets.token_urlsafe(24),
        }
        pin_cpu(os.getpid(), 1)
        with start_uvicorn(
            "sim06.services.asgi:gateway", factory=True, env=env, cpus={0}, health_path="/healthz"
        ) as gateway:
            token = httpx.post(
                f"{gateway.url}/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("bench", secret),
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}", "SOAPAction": '""',
                       "Content-Type": "text/xml; charset=utf-8"}  # fmt: skip
            offset = 0
            for name, build in (("XacThucThongTinCongDan", xac_thuc),
                                ("TraCuuThongTinCongDan", tra_cuu)):  # fmt: skip
                rates = []
                for i in range(args.rounds):
                    base, offset = offset, offset + 10_000_000

                    def request(k: int, b: int = base, f: Any = build) -> bytes:
                        body = f(f"bench-{b + k}", pins[k % len(pins)])
                        return encode_request(
                            "POST", "/soap/dancu", host="127.0.0.1", headers=headers, body=body
                        )

                    result = run_load(
                        "127.0.0.1", gateway.port, request, connections=args.connections,
                        duration=args.duration, warmup=1.0,
                    )  # fmt: skip
                    # Only answers count: a 503 (load shedding) or a 410 (a PIN cancelled by an
                    # event) is reported, never hidden in the rate.
                    others = {k: v for k, v in result.status_counts.items() if k != 200}
                    if others:
                        print(f"  non-200 answers: {others}", flush=True)
                    ok_rps = result.status_counts.get(200, 0) / result.duration_s
                    rates.append(ok_rps)
                    print(
                        f"{name} round {i + 1}, {args.connections} connections: "
                        f"{ok_rps:,.0f} answers/s (p50 {result.p50_ms:.2f} p99 "
                        f"{result.p99_ms:.2f} ms)",
                        flush=True,
                    )
                print(f"{name}: median {statistics.median(rates):,.0f} answers/s", flush=True)


if __name__ == "__main__":
    main()
