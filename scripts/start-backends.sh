#!/usr/bin/env bash
# Start PostgreSQL and Redis on 127.0.0.1 for the test suite and benchmarks (Debian/Ubuntu).
#
#   eval "$(bash scripts/start-backends.sh)"   # exports SIM06_TEST_POSTGRES_URL, SIM06_TEST_REDIS_URL
#
# Idempotent and non-interactive: installs the Debian packages if missing (as root), creates the
# PostgreSQL cluster if there is none, starts whatever is not running, creates the role and database
# `sim06`, and prints the two export lines on stdout (everything else goes to stderr).
# Environment: SIM06_PG_PORT (5432), SIM06_REDIS_PORT (6379), SIM06_PG_PASSWORD (sim06).
set -euo pipefail

PG_PORT="${SIM06_PG_PORT:-5432}"
REDIS_PORT="${SIM06_REDIS_PORT:-6379}"
PG_PASSWORD="${SIM06_PG_PASSWORD:-sim06}"

log() { echo "start-backends: $*" >&2; }

install_missing() {
    local missing=()
    command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]})"
        exit 1
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # policy-rc.d-less containers may fail to start services from the package scripts: harmless,
    # this script starts them itself.
    apt-get install -y -qq "${missing[@]}" >&2 || true
    command -v pg_ctlcluster >/dev/null && command -v redis-server >/dev/null
}

start_postgres() {
    local version cluster=main conf
    version="$(ls /usr/lib/postgresql | sort -V | tail -1)"
    if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$version $cluster"; then
        log "creating PostgreSQL $version cluster $cluster"
        pg_createcluster "$version" "$cluster" -p "$PG_PORT" >&2
    fi
    conf="/etc/postgresql/$version/$cluster/conf.d/sim06.conf"
    if [ ! -f "$conf" ]; then
        # Loopback only; WAL room for multi-GB COPY loads without a checkpoint storm.
        cat >"$conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
max_wal_size = '8GB'
checkpoint_timeout = '15min'
shared_buffers = '1GB'
default_toast_compression = 'lz4'
EOF
    fi
    if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $4}' \
        | grep -q online; then
        log "starting PostgreSQL $version/$cluster on 127.0.0.1:$PG_PORT"
        pg_ctlcluster "$version" "$cluster" start >&2
    fi
    for _ in $(seq 1 50); do
        pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
        sleep 0.2
    done
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT"
    local psql=(runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres)
    # CREATEDB: the tests make a throwaway database per run.
    "${psql[@]}" >&2 <<EOF
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sim06') THEN
    CREATE ROLE sim06 LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END \$\$;
EOF
    if ! "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'sim06'" | grep -q 1; then
        "${psql[@]}" -c "CREATE DATABASE sim06 OWNER sim06" >&2
    fi
}

start_redis() {
    if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
        return 0
    fi
    log "starting redis-server on 127.0.0.1:$REDIS_PORT"
    # State of a test environment: no snapshots, no append-only file.
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' \
        --appendonly no --logfile /tmp/sim06-redis.log --dir /tmp >&2
    for _ in $(seq 1 50); do
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.1
    done
    log "redis did not answer; see /tmp/sim06-redis.log"
    exit 1
}

install_missing
start_postgres
start_redis
echo "export SIM06_TEST_POSTGRES_URL=postgresql://sim06:$PG_PASSWORD@127.0.0.1:$PG_PORT/sim06"
echo "export SIM06_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
