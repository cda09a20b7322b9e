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

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PEER_DIR="${SIM06_PEERS_DIR:-/tmp/sim06-peers/mockpass}"
VERSION="${MOCKPASS_VERSION:-4.3.4}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
PACKAGE="$PEER_DIR/node_modules/@opengovsg/mockpass"

case "$PEER_DIR" in
  "$ROOT"|"$ROOT"/*) echo "SIM06_PEERS_DIR must be outside the repository" >&2; exit 2 ;;
esac
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install -y nodejs npm)" >&2; exit 2; }
done

installed=""
if [ -f "$PACKAGE/package.json" ]; then
  installed="$(node -p "require('$PACKAGE/package.json').version")"
fi
if [ "$installed" != "$VERSION" ]; then
  mkdir -p "$PEER_DIR"
  [ -f "$PEER_DIR/package.json" ] || (cd "$PEER_DIR" && npm init -y >/dev/null)
  (cd "$PEER_DIR" && npm install --no-audit --no-fund --silent "@opengovsg/mockpass@$VERSION")
fi

cd "$ROOT"
exec "$PYTHON" -m benchmarks.peers.bench_vs_mockpass --mockpass-dir "$PACKAGE" "$@"
