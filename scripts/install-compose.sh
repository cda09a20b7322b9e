#!/usr/bin/env bash
# Make `docker compose` (Compose v2) available, so CI can run `docker compose config` on
# docker-compose.yml. No Docker engine is needed for that: the plugin only reads the file.
#
#   bash scripts/install-compose.sh      # then: docker compose version
#
# Debian 12 ships Compose v1 (1.29, which predates the Compose Specification); Debian 13 ships
# v2 as the package docker-compose. Its plugin binary is statically linked Go (it needs only
# libc6 >= 2.34, which Debian 12 has), so the package is fetched with apt from the Debian 13
# suite into a private apt state directory (the system's sources and package database are left
# as they were) and only the plugin is unpacked into the Docker CLI's plugin directory.
# Does nothing when `docker compose` already works; needs root and apt-get otherwise.
set -euo pipefail

PLUGINS="${SIM06_COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}"
SUITE="${SIM06_COMPOSE_SUITE:-trixie}"

log() { echo "install-compose: $*" >&2; }

if docker compose version >/dev/null 2>&1; then
    log "already there: $(docker compose version)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "docker compose is missing; install Docker's compose plugin (Debian 13: apt-get install docker-compose)"
    exit 1
fi

# The Debian mirror this machine's apt already uses (its main archive, not the security one).
mirror="${SIM06_DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null \
    | awk '$2 !~ /-(security|updates|backports)$/ {print $1; exit}')}"
if [ -z "$mirror" ]; then
    log "no Debian archive in apt's sources (run apt-get update, or set SIM06_DEBIAN_MIRROR)"
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb $mirror $SUITE main" >"$work/sources.list"
apt_private=(
    -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
    -o APT::Sandbox::User=root
)
log "fetching Debian $SUITE's docker-compose package"
apt-get "${apt_private[@]}" update -qq >&2
(cd "$work" && apt-get "${apt_private[@]}" download -qq docker-compose >&2)
dpkg-deb -x "$work"/docker-compose_*.deb "$work/root"
install -D -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGINS/docker-compose"
if ! command -v docker >/dev/null 2>&1; then
    # The plugin runs on its own too (`docker-compose config`).
    ln -sf "$PLUGINS/docker-compose" /usr/local/bin/docker-compose
fi
log "installed $("$PLUGINS/docker-compose" version)"
