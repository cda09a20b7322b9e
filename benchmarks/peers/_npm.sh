# Sourced by the peer scripts: installs one npm package into a throwaway directory outside the
# repository (never commit node_modules). Needs node and npm (Debian: nodejs npm).
#
#   peer_install NAME PACKAGE VERSION    # sets PEER_DIR (SIM06_PEERS_DIR or /tmp/sim06-peers/NAME)
#
# The package is (re)installed unless VERSION (or a release of that line: 5 -> 5.x.y) is there.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

peer_install() {
  local name="$1" package="$2" version="$3" installed=""
  PEER_DIR="${SIM06_PEERS_DIR:-/tmp/sim06-peers/$name}"
  case "$PEER_DIR" in
    "$ROOT"|"$ROOT"/*) echo "SIM06_PEERS_DIR must be outside the repository" >&2; exit 2 ;;
  esac
  for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install -y nodejs npm)" >&2; exit 2; }
  done
  local manifest="$PEER_DIR/node_modules/$package/package.json"
  if [ -f "$manifest" ]; then
    installed="$(node -p "require('$manifest').version")"
  fi
  case "$installed" in
    "$version"|"$version".*) ;;  # that version, or a release of that major/minor line
    *)
    mkdir -p "$PEER_DIR"
    [ -f "$PEER_DIR/package.json" ] || (cd "$PEER_DIR" && npm init -y >/dev/null)
    (cd "$PEER_DIR" && npm install --no-audit --no-fund --silent "$package@$version") ;;
  esac
}
