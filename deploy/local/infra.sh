#!/usr/bin/env bash
# Start, stop and inspect the local PostgreSQL and Kafka servers together.
#
# Usage: infra.sh up|down|status|env
#
# up     starts both servers, or reuses running ones. When DATABASE_URL or
#        KAFKA_BOOTSTRAP_SERVERS is set, that server is not started, and up
#        only checks that it accepts connections.
# down   stops the servers that postgres.sh and kafka.sh started.
# status prints the state of both; exits 0 only if both run.
# env    prints export lines for DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS.
#        Use it as: eval "$(bash deploy/local/infra.sh env)"
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

COMPONENT=infra

local_database_url() {
    printf 'postgresql+asyncpg://%s:%s@%s:%s/%s\n' \
        "$CAMPO_PG_USER" "$CAMPO_PG_PASSWORD" "$CAMPO_HOST" "$CAMPO_PG_PORT" "$CAMPO_PG_DB"
}

local_bootstrap_servers() {
    printf '%s:%s\n' "$CAMPO_HOST" "$CAMPO_KAFKA_PORT"
}

# Hide the password of a URL before it is logged.
redact_url() {
    printf '%s\n' "$1" | sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#'
}

check_external_database() {
    # psql takes libpq URLs, which have no "+driver" suffix in the scheme.
    local libpq_url error_output
    libpq_url="$(printf '%s' "$DATABASE_URL" | sed -E 's#^(postgres(ql)?)\+[A-Za-z0-9_]+://#\1://#')"
    if ! command -v psql >/dev/null 2>&1; then
        campo_die postgres "DATABASE_URL is set, but psql is not on PATH to check it. Install postgresql-client-15."
    fi
    if ! error_output="$(PGCONNECT_TIMEOUT=5 psql "$libpq_url" -X -q -At -c 'SELECT 1' 2>&1 >/dev/null)"; then
        campo_die postgres "DATABASE_URL=$(redact_url "$DATABASE_URL") is set, but connecting to it failed: $error_output. Fix the URL, or unset DATABASE_URL to start the local server."
    fi
    campo_log postgres "reusing the server at DATABASE_URL=$(redact_url "$DATABASE_URL"); not starting a local one"
}

check_external_kafka() {
    local servers server host port
    IFS=, read -r -a servers <<<"$KAFKA_BOOTSTRAP_SERVERS"
    for server in "${servers[@]}"; do
        server="${server// /}"
        server="${server#*://}"
        host="${server%:*}"
        port="${server##*:}"
        host="${host#[}"
        host="${host%]}"
        if [[ -n "$host" && "$port" =~ ^[0-9]+$ ]] && campo_port_open "$host" "$port"; then
            campo_log kafka "reusing the broker at KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS ($host:$port accepts connections); not starting a local one"
            return 0
        fi
    done
    campo_die kafka "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS is set, but none of its host:port entries accepts TCP connections. Start that broker, or unset KAFKA_BOOTSTRAP_SERVERS to start the local one."
}

cmd_up() {
    local started=$SECONDS
    if [[ -n "${DATABASE_URL:-}" ]]; then
        check_external_database
    else
        bash "$CAMPO_LOCAL_DIR/postgres.sh" start
    fi
    if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
        check_external_kafka
    else
        bash "$CAMPO_LOCAL_DIR/kafka.sh" start
    fi
    campo_log "$COMPONENT" "up in $((SECONDS - started)) s. Set the service variables with: eval \"\$(bash $CAMPO_LOCAL_DIR/infra.sh env)\""
}

cmd_down() {
    bash "$CAMPO_LOCAL_DIR/kafka.sh" stop
    bash "$CAMPO_LOCAL_DIR/postgres.sh" stop
}

cmd_status() {
    local status=0
    bash "$CAMPO_LOCAL_DIR/postgres.sh" status || status=3
    bash "$CAMPO_LOCAL_DIR/kafka.sh" status || status=3
    return "$status"
}

# Print export lines on stdout. A server that is neither given by the
# environment nor running locally gets an error on stderr and exit status 1.
cmd_env() {
    local status=0
    if [[ -n "${DATABASE_URL:-}" ]]; then
        printf 'export DATABASE_URL=%q\n' "$DATABASE_URL"
    elif bash "$CAMPO_LOCAL_DIR/postgres.sh" status >/dev/null 2>&1; then
        printf 'export DATABASE_URL=%q\n' "$(local_database_url)"
    else
        printf 'ERROR: postgres: the local server is not running and DATABASE_URL is not set. Start it with: bash %s/infra.sh up\n' "$CAMPO_LOCAL_DIR" >&2
        status=1
    fi
    if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
        printf 'export KAFKA_BOOTSTRAP_SERVERS=%q\n' "$KAFKA_BOOTSTRAP_SERVERS"
    elif bash "$CAMPO_LOCAL_DIR/kafka.sh" status >/dev/null 2>&1; then
        printf 'export KAFKA_BOOTSTRAP_SERVERS=%q\n' "$(local_bootstrap_servers)"
    else
        printf 'ERROR: kafka: the local broker is not running and KAFKA_BOOTSTRAP_SERVERS is not set. Start it with: bash %s/infra.sh up\n' "$CAMPO_LOCAL_DIR" >&2
        status=1
    fi
    return "$status"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *)
        echo "usage: $0 up|down|status|env" >&2
        exit 2
        ;;
esac
