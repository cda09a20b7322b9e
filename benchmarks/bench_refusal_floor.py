"""How cheap can a refusal be here? nginx's canned 503 beside sim06's refusal and lookup.

``python -m benchmarks.bench_refusal_floor [--size N] [--rounds 3] [--duration 5]``

Issue 17 asks, at twice a service's capacity, for 90 % goodput while every excess request is
answered at once. With a lookup costing ``s`` of server CPU and a refusal ``r``, one core can
answer every arrival while serving a share ``a`` of its capacity only if
``a·s + (2 − a)·r ≤ s``, i.e. ``a ≤ (1 − 2ρ) / (1 − ρ)`` with ``ρ = r / s``: 90 % needs
``ρ ≤ 0.09``. This benchmark measures ``r`` for the cheapest HTTP refusal a server can make —
nginx (C, epoll, one process, ``return 503`` with ``Retry-After``) — beside sim06's refusal in
its HTTP protocol and its registry lookup, each one process pinned to CPU 0, closed loop,
32 connections, the project's load generator on CPU 1, rounds interleaved. CPU per answer is
the server's user + system time from ``/proc`` (a busy neighbour does not inflate it), so the
kernel's loopback work for each answer is in it, as it is on a real server.

nginx comes from the distribution's package (``apt-get install nginx-light``); without it the
nginx column is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.bench_overload import Bench
from benchmarks.bench_registry_http import ensure_db
from sim06.services.bench import pin_cpu, run_load
from sim06.services.bench.servers import ServerProcess, free_port

# The body sim06 refuses with (its shape, not its exact bytes): nginx pays for a similar write.
NGINX_BODY = (
    '{"type":"urn:sim06:problem:OVERLOADED","title":"Service overloaded / Dịch vụ quá tải",'
    '"status":503,"code":"OVERLOADED","detail":"Retry after the time in Retry-After."}'
)
NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log error;
events {{ worker_connections 4096; use epoll; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/problem+json;
            add_header Retry-After 1 always;
            return 503 '{body}';
        }}
    }}
}}
"""
ONE_UNIT = {
    "SIM06_ADMISSION_MIN_LIMIT": "1",
    "SIM06_ADMISSION_MAX_LIMIT": "1",
    "SIM06_ADMISSION_INITIAL_LIMIT": "1",
}


def start_nginx(root: Path) -> ServerProcess | None:
    """nginx as one process on CPU 0 answering every request 503, or None if not installed."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        return None
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, port=port, body=NGINX_BODY), "utf-8")
    log = root / "nginx.stderr"
    with open(log, "wb") as err:
        process = subprocess.Popen([binary, "-c", str(conf), "-p", str(root)], stderr=err)
    pin_cpu(process.pid, 0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return ServerProcess(process, port, str(log))
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"nginx did not listen: {log.read_text()}")


def cpu_per_answer(
    server: ServerProcess, requests: Callable[[int], bytes], duration: float
) -> dict[str, Any]:
    """Closed loop, 32 connections: answers/s, statuses and server CPU µs per answer."""
    before = server.cpu_seconds()
    load = run_load("127.0.0.1", server.port, requests, connections=32, duration=duration, warmup=0)
    used = server.cpu_seconds() - before
    answers = sum(load.status_counts.values())
    return {
        "rps": round(load.rps),
        "status": {str(k): v for k, v in load.status_counts.items()},
        "cpu_us": used / max(1, answers) * 1e6,
    }


def ceiling(rho: float) -> float:
    """The largest share of capacity one core can serve at 2x load answering every arrival."""
    return max(0.0, (1 - 2 * rho) / (1 - rho))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    root = Path(tmp.name)
    db = root / "population.db"
    ensure_db(db, args.size)
    bench = Bench(root, db, {})
    pin_cpu(os.getpid(), 1)
    samples: dict[str, list[float]] = {"nginx_503": [], "sim06_refusal": [], "sim06_lookup": []}
    for round_no in range(args.rounds):
        nginx_root = Path(tempfile.mkdtemp(dir=root, prefix="nginx"))
        nginx = start_nginx(nginx_root)
        runs: list[tuple[str, ServerProcess | None]] = [
            ("nginx_503", nginx),
            ("sim06_refusal", bench.start("registry", "on", **ONE_UNIT)),
            ("sim06_lookup", bench.start("registry", "off")),
        ]
        for label, server in runs:
            if server is None:
                continue
            # Refusals need requests the protocol's lanes leave to the app (Bench.queued).
            requests = bench.queued_lookup if label == "sim06_refusal" else bench.lookup
            with server:
                result = cpu_per_answer(server, requests, args.duration)
            samples[label].append(result["cpu_us"])
            print(
                f"round {round_no + 1} {label}: {result['rps']:,} answers/s {result['status']}, "
                f"{result['cpu_us']:.1f} µs CPU/answer (load {os.getloadavg()[0]:.2f})",
                flush=True,
            )
    report: dict[str, Any] = {k: round(statistics.median(v), 1) for k, v in samples.items() if v}
    lookup = report["sim06_lookup"]
    for label in ("nginx_503", "sim06_refusal"):
        if label in report:
            rho = report[label] / lookup
            report[f"rho_{label}"] = round(rho, 3)
            report[f"goodput_ceiling_{label}"] = round(ceiling(rho), 3)
    report["lookup_cost_for_90pct_with_nginx_refusal_us"] = (
        round(report["nginx_503"] / 0.09, 1) if "nginx_503" in report else None
    )
    for key, value in report.items():
        print(f"{key:>48}: {value}")
    print(json.dumps(report))
    tmp.cleanup()


if __name__ == "__main__":
    main()
