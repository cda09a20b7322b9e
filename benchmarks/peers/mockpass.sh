#!/usr/bin/env bash
# sim06's VNeID login flows beside MockPass's Singpass v2 login flows, side by side.
#
#   bash benchmarks/peers/mockpass.sh [--rounds 3] [--duration 8] [--concurrency 16]
#                                     [--alg RS256|ES256] [--sim06-auth private_key_jwt]
#
# Installs @opengovsg/mockpass from npm into a throwaway directory outside the repository
# (SIM06_PEERS_DIR, default /tmp/sim06-peers/mockpass; never commit node_modules), then runs
# benchmarks/peers/bench_vs_mockpass.py, which starts both servers on 127.0.0.1 and prints
# flows/s, p50/p99 and the ratio as JSON. Needs node and npm (Debian: nodejs npm).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/_npm.sh"
peer_install mockpass @opengovsg/mockpass "${MOCKPASS_VERSION:-4.3.4}"

cd "$ROOT"
exec "$PYTHON" -m benchmarks.peers.bench_vs_mockpass --mockpass-dir "$PEER_DIR/node_modules/@opengovsg/mockpass" "$@"
