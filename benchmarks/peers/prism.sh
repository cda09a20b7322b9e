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

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEER_DIR="${SIM06_PEERS_DIR:-/tmp/sim06-peers/prism}"
VERSION="${PRISM_VERSION:-5}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
PRISM="$PEER_DIR/node_modules/.bin/prism"

case "$PEER_DIR" in
  "$ROOT"|"$ROOT"/*) echo "SIM06_PEERS_DIR must be outside the repository" >&2; exit 2 ;;
esac
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install -y nodejs npm)" >&2; exit 2; }
done

if [ ! -x "$PRISM" ]; then
  mkdir -p "$PEER_DIR"
  [ -f "$PEER_DIR/package.json" ] || (cd "$PEER_DIR" && npm init -y >/dev/null)
  (cd "$PEER_DIR" && npm install --no-audit --no-fund --silent "@stoplight/prism-cli@$VERSION")
fi

cd "$ROOT"
exec "$PYTHON" -m benchmarks.peers.bench_vs_prism --prism "$PRISM" "$@"
