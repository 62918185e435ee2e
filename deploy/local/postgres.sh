#!/usr/bin/env bash
# Run a private PostgreSQL 15 + PostGIS cluster on 127.0.0.1 for local
# development and tests, independent of Debian's own cluster and of systemd.
#
# Usage: postgres.sh start|stop|status
#
# start  initializes the cluster on first use, starts it, and makes sure the
#        role, the database and the postgis extension exist. It reuses a
#        cluster that is already running and accepting connections.
# stop   stops the cluster with pg_ctl's fast mode (open sessions are ended).
# status prints whether the cluster runs; exits 0 if it does, 3 if not.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

COMPONENT=postgres
PG_DATA="${CAMPO_PG_DATA:-$CAMPO_STATE_DIR/postgres}"
PG_LOG="$CAMPO_LOG_DIR/postgres.log"
# /tmp rather than the data directory, because a unix socket path is limited
# to 107 bytes and the data directory can be deep. The socket name contains
# the port, so clusters on different ports do not collide there.
PG_SOCKET_DIR=/tmp
# Bootstrap superuser, reached over the unix socket with peer authentication.
if [[ $EUID -eq 0 ]]; then
    PG_SUPERUSER=postgres
else
    PG_SUPERUSER="$(id -un)"
fi

pg_owner() {
    # The cluster owner may not be able to read the caller's cwd.
    (cd / && campo_as_pg_owner "$@")
}

ensure_binaries() {
    if [[ ! -x "$CAMPO_PG_BIN/initdb" ]]; then
        campo_ensure_apt_packages "$COMPONENT" postgresql-15 postgresql-contrib
    fi
    if [[ ! -x "$CAMPO_PG_BIN/initdb" ]]; then
        campo_die "$COMPONENT" "initdb not found in CAMPO_PG_BIN=$CAMPO_PG_BIN. Install postgresql-15 or point CAMPO_PG_BIN at a PostgreSQL 15 bin directory."
    fi

    local extension_dir
    extension_dir="$("$CAMPO_PG_BIN/pg_config" --sharedir)/extension"
    if [[ ! -f "$extension_dir/postgis.control" ]]; then
        campo_ensure_apt_packages "$COMPONENT" postgresql-15-postgis-3
    fi
    if [[ ! -f "$extension_dir/postgis.control" ]]; then
        campo_die "$COMPONENT" "PostGIS is not installed: $extension_dir/postgis.control is missing. Install the Debian package postgresql-15-postgis-3."
    fi
}

is_running() {
    [[ -f "$PG_DATA/PG_VERSION" ]] && pg_owner "$CAMPO_PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

running_pid() {
    head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true
}

# Succeed when the server accepts connections on 127.0.0.1:CAMPO_PG_PORT,
# retrying for up to SECONDS.
is_answering() {
    local seconds="${1:-1}" deadline
    deadline=$((SECONDS + seconds))
    while true; do
        if "$CAMPO_PG_BIN/pg_isready" -q -h "$CAMPO_HOST" -p "$CAMPO_PG_PORT" -t 2; then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.5
    done
}

prepare_directories() {
    campo_prepare_state_dir
    if ! campo_pg_owner_can_traverse "$CAMPO_STATE_DIR"; then
        campo_die "$COMPONENT" "the postgres OS user cannot reach CAMPO_STATE_DIR=$CAMPO_STATE_DIR because a parent directory denies it access. Set CAMPO_STATE_DIR to a directory under /var/tmp or make the parents world-traversable (chmod o+x)."
    fi
    if [[ ! -e "$PG_LOG" ]]; then
        : >"$PG_LOG"
    fi
    if [[ $EUID -eq 0 ]]; then
        chown postgres:postgres "$PG_LOG"
        if [[ ! -d "$PG_DATA" ]]; then
            install -d -m 700 -o postgres -g postgres "$PG_DATA"
        fi
    else
        install -d -m 700 "$PG_DATA"
    fi
}

init_cluster() {
    if [[ -f "$PG_DATA/PG_VERSION" ]]; then
        return 0
    fi
    campo_log "$COMPONENT" "initializing a new cluster in $PG_DATA"
    # C.UTF-8 keeps sorting byte-wise and predictable while lower() and
    # upper() still handle non-ASCII letters.
    if ! pg_owner "$CAMPO_PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPERUSER" \
        --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1; then
        campo_show_log_tail "$PG_LOG" 30
        campo_die "$COMPONENT" "initdb failed for $PG_DATA (log: $PG_LOG). If the directory contains a broken cluster, remove it and run start again."
    fi
    printf "\ninclude_if_exists = 'campo.conf'\n" | pg_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

# campo.conf is rewritten on every start, so a changed port or CAMPO_PG_FAST
# takes effect at the next start of a stopped cluster.
write_config() {
    local durability
    if [[ "$CAMPO_PG_FAST" == "1" ]]; then
        durability="fsync = off
synchronous_commit = off
full_page_writes = off"
    else
        durability="fsync = on
synchronous_commit = on
full_page_writes = on"
    fi
    pg_owner tee "$PG_DATA/campo.conf" >/dev/null <<EOF
# Written by deploy/local/postgres.sh on every start, so edits here are lost.
listen_addresses = '$CAMPO_HOST'
port = $CAMPO_PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
max_connections = 200
password_encryption = scram-sha-256
log_line_prefix = '%m [%p] %q%u@%d '
$durability
EOF
}

psql_admin() {
    local database="$1"
    shift
    PGOPTIONS='-c client_min_messages=warning' pg_owner "$CAMPO_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$PG_SOCKET_DIR" -p "$CAMPO_PG_PORT" -U "$PG_SUPERUSER" -d "$database" "$@"
}

# Create the application role and database and install PostGIS. Safe to run
# on every start. The role is SUPERUSER because migrations run
# CREATE EXTENSION, which needs it for most extensions. That is acceptable
# only because the cluster listens on loopback for local development.
provision() {
    psql_admin postgres -v user="$CAMPO_PG_USER" -v password="$CAMPO_PG_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I', :'user')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'user') \gexec
ALTER ROLE :"user" WITH LOGIN SUPERUSER CREATEDB PASSWORD :'password';
SQL
    # template1 first, so the application database and every database
    # created later (test databases) start with PostGIS installed.
    psql_admin template1 -c 'CREATE EXTENSION IF NOT EXISTS postgis'
    psql_admin postgres -v user="$CAMPO_PG_USER" -v db="$CAMPO_PG_DB" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
    psql_admin "$CAMPO_PG_DB" -c 'CREATE EXTENSION IF NOT EXISTS postgis'
}

fail_start() {
    campo_show_log_tail "$PG_LOG" 30
    campo_die "$COMPONENT" "$1 (log: $PG_LOG)"
}

report_ready() {
    local postgis
    postgis="$(psql_admin "$CAMPO_PG_DB" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'postgis'")"
    campo_log "$COMPONENT" "ready on $CAMPO_HOST:$CAMPO_PG_PORT (pid $(running_pid)), database $CAMPO_PG_DB, role $CAMPO_PG_USER, PostGIS $postgis"
}

cmd_start() {
    ensure_binaries
    prepare_directories
    campo_lock_state "$COMPONENT"

    if is_running; then
        if is_answering 10; then
            provision
            campo_log "$COMPONENT" "already running (pid $(running_pid)) on $CAMPO_HOST:$CAMPO_PG_PORT; nothing to do"
            return 0
        fi
        campo_warn "$COMPONENT" "running (pid $(running_pid)) but not accepting connections on $CAMPO_HOST:$CAMPO_PG_PORT, so restarting it with the current settings"
        write_config
        if ! pg_owner "$CAMPO_PG_BIN/pg_ctl" restart -D "$PG_DATA" -m fast -w -t 60 -s -l "$PG_LOG" 9>&-; then
            fail_start "restart failed"
        fi
    else
        if campo_port_open "$CAMPO_HOST" "$CAMPO_PG_PORT"; then
            campo_describe_port_owner "$CAMPO_PG_PORT"
            campo_die "$COMPONENT" "port $CAMPO_PG_PORT on $CAMPO_HOST is already in use by another process, not by the cluster in $PG_DATA. Stop that process or set CAMPO_PG_PORT to a free port (log: $PG_LOG)."
        fi
        init_cluster
        write_config
        campo_log "$COMPONENT" "starting on $CAMPO_HOST:$CAMPO_PG_PORT (data: $PG_DATA, log: $PG_LOG)"
        if ! pg_owner "$CAMPO_PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -s 9>&-; then
            fail_start "failed to start"
        fi
    fi

    if ! is_answering 30; then
        fail_start "started but does not accept connections on $CAMPO_HOST:$CAMPO_PG_PORT within 30 s"
    fi
    if ! provision >>"$PG_LOG" 2>&1; then
        fail_start "creating role $CAMPO_PG_USER, database $CAMPO_PG_DB or the postgis extension failed"
    fi
    report_ready
}

cmd_stop() {
    if [[ -d "$CAMPO_STATE_DIR" ]]; then
        campo_lock_state "$COMPONENT"
    fi
    if ! is_running; then
        campo_log "$COMPONENT" "not running (data: $PG_DATA); nothing to stop"
        return 0
    fi
    campo_log "$COMPONENT" "stopping pid $(running_pid)"
    if ! pg_owner "$CAMPO_PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 -s; then
        fail_start "pg_ctl stop failed"
    fi
    campo_log "$COMPONENT" "stopped"
}

cmd_status() {
    if is_running; then
        local answering="accepting connections"
        is_answering 1 || answering="NOT accepting connections"
        campo_log "$COMPONENT" "running (pid $(running_pid)), $answering on $CAMPO_HOST:$CAMPO_PG_PORT (data: $PG_DATA, log: $PG_LOG)"
        return 0
    fi
    campo_log "$COMPONENT" "not running (data: $PG_DATA, log: $PG_LOG)"
    return 3
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
