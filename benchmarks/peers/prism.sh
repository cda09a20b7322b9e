#!/usr/bin/env bash
# sim06's registry beside Stoplight Prism mocking the same contract (lookup throughput, p99).
#
#   bash benchmarks/peers/prism.sh [--rounds 3] [--duration 8] [--connections 16]
#
# Installs @stoplight/prism-cli from npm into a throwaway directory outside the repository
# (SIM06_PEERS_DIR, default /tmp/sim06-peers/prism; never commit node_modules), then runs
# benchmarks/peers/bench_vs_prism.py, which serves contracts/openapi/registry.yaml with both on
# 127.0.0.1 and prints rounds, medians and ratios as JSON. Needs node and npm.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/_npm.sh"
peer_install prism @stoplight/prism-cli "${PRISM_VERSION:-5}"

cd "$ROOT"
exec "$PYTHON" -m benchmarks.peers.bench_vs_prism --prism "$PEER_DIR/node_modules/.bin/prism" "$@"
