"""sim06's VNeID login beside MockPass's Singpass v2 (NDI OIDC) login: same tool, same machine.

    bash benchmarks/peers/mockpass.sh [--rounds 3 --duration 8 --concurrency 16]

(the wrapper installs ``@opengovsg/mockpass`` from npm outside the repository, then runs
``python -m benchmarks.peers.bench_vs_mockpass --mockpass-dir DIR``).

Both servers run at once, each pinned to --server-cpu (one worker, one core each: uvicorn for
sim06 as ``sim06 up`` serves it, node for MockPass); this load generator runs on --client-cpu.
Rounds alternate (sim06 first, then MockPass first, ...) so machine noise hits both alike.
Flows, each a relying party's whole non-interactive login, checked at every step:

- sim06: GET /authorize (auto-login, PKCE S256) → 303 + code → POST /token (client_secret_basic,
  or ``--sim06-auth private_key_jwt`` with an ES256 client assertion) → GET /userinfo.
- MockPass 4.3.4 (``SHOW_LOGIN_PAGE=false``): GET /singpass/v2/authorize → 302 + code →
  POST /singpass/v2/token with an ES512 client assertion signed by the demo relying party's
  private key bundled with MockPass (``static/certs/oidc-v2-rp-secret.json``) → decrypt the
  ID token (JWE ECDH-ES+A256KW, A256CBC-HS512) with that relying party's key and verify its
  ES256 signature against MockPass's JWKS. MockPass has no userinfo endpoint: the encrypted
  ID token is how its relying parties get the identity, so this is the equivalent last step.

Prints one JSON document: per-round figures, medians, and the throughput ratio.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwe, jwt as jose_jwt
from joserfc.jwk import ECKey, KeySet

from benchmarks.bench_identity_flows import AUTH_METHODS, make_flow, serve
from sim06.services.bench import FlowClient, FlowResult, ServerStartError, pin_cpu, run_flows
from sim06.services.bench.flows import Flow
from sim06.services.bench.servers import free_port

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
RP_ID, RP_REDIRECT = "bench-rp", "http://127.0.0.1:9/callback"


@contextmanager
def run_mockpass(package: Path, cpu: int) -> Iterator[tuple[int, int]]:
    """Start MockPass (``node index.js``) pinned to ``cpu``, without login page: (port, pid)."""
    port = free_port()
    env = {**os.environ, "MOCKPASS_PORT": str(port), "SHOW_LOGIN_PAGE": "false"}
    saved = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    pin_cpu(0, cpu)  # node's threads inherit the mask of the thread that forks it
    try:
        process = subprocess.Popen(
            ["node", str(package / "index.js")], cwd=package, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        if saved is not None:
            pin_cpu(0, saved)
    try:
        _wait(port, "/singpass/v2/.well-known/openid-configuration", process)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(port: int, path: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"MockPass exited with {process.returncode}")
        try:
            _get_json(port, path)
            return
        except OSError:
            time.sleep(0.1)
    raise ServerStartError("MockPass did not answer within 20 s")


def _get_json(port: int, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        if response.status != 200:
            raise OSError(f"status {response.status}")
        return json.loads(response.read())
    finally:
        conn.close()


def mockpass_flow(package: Path, port: int) -> Flow:
    """One MockPass Singpass v2 login, its ID token decrypted and verified."""
    base = f"http://127.0.0.1:{port}/singpass/v2"
    rp_keys = json.loads((package / "static/certs/oidc-v2-rp-secret.json").read_text())
    signing = ECKey.import_key(next(k for k in rp_keys["keys"] if k["use"] == "sig"))
    decrypting = ECKey.import_key(next(k for k in rp_keys["keys"] if k["use"] == "enc"))
    sign_alg = str(signing.get("alg") or "ES512")
    enc_algs = ["ECDH-ES+A256KW", "ECDH-ES+A192KW", "ECDH-ES+A128KW", "A256CBC-HS512"]
    provider_keys = KeySet.import_key_set(_get_json(port, "/singpass/v2/.well-known/keys"))
    counter = 0

    async def flow(client: FlowClient) -> None:
        nonlocal counter
        counter += 1
        state, nonce = f"s{counter}", uuid.uuid4().hex
        query = urlencode({"scope": "openid", "response_type": "code", "client_id": RP_ID,
                           "redirect_uri": RP_REDIRECT, "state": state,
                           "nonce": nonce})  # fmt: skip
        r = (await client.request("GET", "/singpass/v2/authorize?" + query)).expect(302)
        returned = parse_qs(urlsplit(r.headers["location"]).query)
        assert returned["state"] == [state]
        now = int(time.time())
        assertion = jose_jwt.encode(
            {"alg": sign_alg, "typ": "JWT", "kid": signing.kid},
            {"iss": RP_ID, "sub": RP_ID, "aud": base, "iat": now, "exp": now + 60,
             "jti": uuid.uuid4().hex},
            signing, algorithms=[sign_alg],
        )  # fmt: skip
        body = urlencode({"client_id": RP_ID, "redirect_uri": RP_REDIRECT,
                          "grant_type": "authorization_code", "code": returned["code"][0],
                          "client_assertion_type": ASSERTION_TYPE,
                          "client_assertion": assertion}).encode()  # fmt: skip
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        r = (await client.request("POST", "/singpass/v2/token", body=body, headers=headers)).expect(
            200
        )
        encrypted = json.loads(r.body)["id_token"]
        signed = jwe.decrypt_compact(encrypted, decrypting, algorithms=enc_algs).plaintext
        assert signed is not None
        token = jose_jwt.decode(signed, provider_keys, algorithms=["ES256"])
        claims = token.claims
        assert claims["nonce"] == nonce and claims["aud"] == RP_ID and claims["iss"] == base
        assert str(claims["sub"]).startswith("s=")

    return flow


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu_s(pid: int) -> float:
    """CPU seconds used so far by process ``pid`` and all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _round(port: int, pid: int, flow: Flow, args: argparse.Namespace) -> dict[str, Any]:
    cpu, server_cpu = _cpu_s(), server_cpu_s(pid)
    result: FlowResult = run_flows(
        "127.0.0.1", port, flow, concurrency=args.concurrency, duration=args.duration,
        warmup=args.warmup,
    )  # fmt: skip
    figures = result.to_dict()
    used = server_cpu_s(pid) - server_cpu
    flows = figures["flows"] * (args.duration + args.warmup) / args.duration  # warm-up ones too
    return {
        "flows_per_s": round(figures["flows_per_s"], 1),
        "p50_ms": round(figures["p50_ms"], 2),
        "p99_ms": round(figures["p99_ms"], 2),
        "errors": figures["errors"],
        # Server CPU per flow: robust to a busy machine, unlike flows/s.
        "server_cpu_ms_per_flow": round(1000 * used / flows, 2) if flows else None,
        # Share of the client core this process used: near 1.0 the client is the limit.
        "client_cpu_share": round((_cpu_s() - cpu) / (args.duration + args.warmup), 2),
    }


def _medians(rounds: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("flows_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_flow", "client_cpu_share")
    return {k: round(statistics.median(r[k] for r in rounds), 2) for k in keys}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--mockpass-dir", type=Path, required=True,
        help="the installed package: .../node_modules/@opengovsg/mockpass",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--alg", choices=("RS256", "ES256"), default="RS256")
    parser.add_argument("--sim06-auth", choices=AUTH_METHODS, default="client_secret_basic")
    args = parser.parse_args(argv)
    package = args.mockpass_dir.resolve()
    version = json.loads((package / "package.json").read_text())["version"]
    client_key = ec.generate_private_key(ec.SECP256R1())
    results: dict[str, list[dict[str, Any]]] = {"sim06": [], "mockpass": []}
    with (
        serve(args.alg, args.server_cpu, client_key) as server,
        run_mockpass(package, args.server_cpu) as (mp_port, mp_pid),
    ):
        pin_cpu(0, args.client_cpu)
        flows = {
            "sim06": (server.port, server.pid, make_flow(server.url, args.sim06_auth, client_key)),
            "mockpass": (mp_port, mp_pid, mockpass_flow(package, mp_port)),
        }
        for n in range(args.rounds):
            order = ["sim06", "mockpass"] if n % 2 == 0 else ["mockpass", "sim06"]
            for name in order:
                port, pid, flow = flows[name]
                results[name].append(_round(port, pid, flow, args))
                sys.stderr.write(f"round {n + 1} {name}: {results[name][-1]}\n")
    sim, peer = _medians(results["sim06"]), _medians(results["mockpass"])
    pairs = [
        round(a["flows_per_s"] / b["flows_per_s"], 2) if b["flows_per_s"] else None
        for a, b in zip(results["sim06"], results["mockpass"], strict=True)
    ]
    report = {
        "setup": {"concurrency": args.concurrency, "duration_s": args.duration,
                  "rounds": args.rounds, "server_cpu": args.server_cpu,
                  "client_cpu": args.client_cpu, "sim06_alg": args.alg,
                  "sim06_auth": args.sim06_auth, "mockpass_version": version},
        "sim06": {"median": sim, "rounds": results["sim06"]},
        "mockpass": {"median": peer, "rounds": results["mockpass"]},
        "ratio_flows_per_s": round(sim["flows_per_s"] / peer["flows_per_s"], 2)
        if peer["flows_per_s"] else None,
        "ratio_per_round": pairs,
        "ratio_server_cpu_per_flow": round(
            peer["server_cpu_ms_per_flow"] / sim["server_cpu_ms_per_flow"], 2
        ) if sim["server_cpu_ms_per_flow"] else None,
    }  # fmt: skip
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    failed = any(r["errors"] for rs in results.values() for r in rs)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
