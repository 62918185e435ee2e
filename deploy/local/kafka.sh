#!/usr/bin/env bash
# Run a single-node Apache Kafka broker (KRaft, combined broker and
# controller) on 127.0.0.1 for local development and tests, from jars that
# Maven fetches into a cache. No Kafka distribution or Docker is needed.
#
# Usage: kafka.sh start|stop|status|fetch|topics
#
# fetch  downloads the broker jars once into $CAMPO_CACHE_DIR/kafka-<version>/lib.
# start  fetches if needed, formats the storage on first use, launches the
#        broker and waits until it serves metadata. It reuses a running broker.
# stop   sends SIGTERM, and SIGKILL if the broker has not exited in 30 s.
# status prints whether the broker runs; exits 0 if it does, 3 if not.
# topics lists the topics of the running broker.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

COMPONENT=kafka
KAFKA_TEMPLATE_DIR="$CAMPO_LOCAL_DIR/kafka"
KAFKA_HOME="$CAMPO_CACHE_DIR/kafka-$CAMPO_KAFKA_VERSION"
KAFKA_LIB="$KAFKA_HOME/lib"
# Contains the sha256 of the pom the jars came from, so a changed pom refetches.
KAFKA_LIB_MARKER="$KAFKA_LIB/.complete"
KAFKA_STATE="$CAMPO_STATE_DIR/kafka"
KAFKA_DATA="$KAFKA_STATE/data"
KAFKA_CONFIG="$KAFKA_STATE/server.properties"
KAFKA_ADMIN_CONFIG="$KAFKA_STATE/admin.properties"
KAFKA_PID_FILE="$KAFKA_STATE/kafka.pid"
KAFKA_LOG="$CAMPO_LOG_DIR/kafka.log"
KAFKA_OUT="$CAMPO_LOG_DIR/kafka.out"
KAFKA_BOOTSTRAP="$CAMPO_HOST:$CAMPO_KAFKA_PORT"
KAFKA_STOP_TIMEOUT=30

require_java() {
    if ! command -v java >/dev/null 2>&1; then
        campo_die "$COMPONENT" "java not found on PATH. Install Java 17 or newer (Debian: apt-get install -y openjdk-17-jre-headless)."
    fi
}

# Fetch the jars unless the cache is complete. With "quiet", a complete
# cache is not reported.
cmd_fetch() {
    local verbosity="${1:-}" pom="$KAFKA_TEMPLATE_DIR/pom.xml" expected
    expected="$(sha256sum "$pom" | cut -d' ' -f1)"
    if [[ -f "$KAFKA_LIB_MARKER" && "$(cat "$KAFKA_LIB_MARKER")" == "$expected" ]]; then
        if [[ "$verbosity" != quiet ]]; then
            campo_log "$COMPONENT" "Kafka $CAMPO_KAFKA_VERSION jars already in $KAFKA_LIB"
        fi
        return 0
    fi
    if ! command -v mvn >/dev/null 2>&1; then
        campo_die "$COMPONENT" "mvn not found on PATH, and it is needed once to fetch the Kafka jars. Install Maven (Debian: apt-get install -y maven)."
    fi

    install -d "$KAFKA_HOME"
    # Serializes concurrent fetches into the same cache.
    exec {lock_fd}>"$KAFKA_HOME/.fetch.lock"
    flock "$lock_fd"
    if [[ -f "$KAFKA_LIB_MARKER" && "$(cat "$KAFKA_LIB_MARKER")" == "$expected" ]]; then
        exec {lock_fd}>&-
        return 0
    fi

    local staging="$KAFKA_HOME/lib.partial" fetch_log="$KAFKA_HOME/fetch.log" started=$SECONDS
    rm -rf "$staging"
    campo_log "$COMPONENT" "fetching Kafka $CAMPO_KAFKA_VERSION jars with Maven into $KAFKA_LIB (log: $fetch_log)"
    if ! mvn -B -q -f "$pom" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$staging" >"$fetch_log" 2>&1; then
        campo_show_log_tail "$fetch_log" 30
        campo_die "$COMPONENT" "mvn dependency:copy-dependencies failed for $pom (log: $fetch_log). Check that Maven Central is reachable and rerun: bash $0 fetch"
    fi
    if [[ ! -f "$staging/kafka_2.13-$CAMPO_KAFKA_VERSION.jar" ]]; then
        campo_die "$COMPONENT" "Maven finished, but kafka_2.13-$CAMPO_KAFKA_VERSION.jar is missing from $staging"
    fi
    rm -rf "$KAFKA_LIB"
    mv "$staging" "$KAFKA_LIB"
    printf '%s\n' "$expected" >"$KAFKA_LIB_MARKER"
    exec {lock_fd}>&-
    campo_log "$COMPONENT" "fetched $(find "$KAFKA_LIB" -name '*.jar' | wc -l) jars in $((SECONDS - started)) s"
}

read_pid() {
    if [[ -f "$KAFKA_PID_FILE" ]]; then
        head -n 1 "$KAFKA_PID_FILE"
    fi
}

# Succeed when PID is a live process. A zombie counts as exited: the broker
# is a child of this shell right after launch, and is not reaped until exit.
pid_alive() {
    local pid="$1" state
    kill -0 "$pid" 2>/dev/null || return 1
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ "$state" != Z ]]
}

# Succeed when the pid file names a live broker started with this state
# directory's config, so a reused pid or another broker does not count.
is_running() {
    local pid
    pid="$(read_pid)"
    [[ -n "$pid" ]] || return 1
    pid_alive "$pid" || return 1
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmdline" == *kafka.Kafka* && "$cmdline" == *"$KAFKA_CONFIG"* ]]
}

# JVM for the short-lived Kafka command-line tools: a small heap and no
# optimizing JIT, because they exit within seconds. They log only errors, to
# stdout, because log4j2 falls back to its default configuration.
KAFKA_TOOL_JAVA=(java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)

run_kafka_tool() {
    "${KAFKA_TOOL_JAVA[@]}" -cp "$KAFKA_LIB/*" "$@"
}

list_topics() {
    timeout 40 "${KAFKA_TOOL_JAVA[@]}" -cp "$KAFKA_LIB/*" org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "$KAFKA_BOOTSTRAP" --command-config "$KAFKA_ADMIN_CONFIG" --list
}

# Succeed when the broker accepts TCP connections and returns a topic list.
# The port is bound early in startup, but requests are only processed once
# the broker has caught up with the KRaft metadata log.
is_serving() {
    campo_port_open "$CAMPO_HOST" "$CAMPO_KAFKA_PORT" && list_topics >/dev/null 2>&1
}

render_config() {
    sed -e "s|@BROKER_PORT@|$CAMPO_KAFKA_PORT|g" \
        -e "s|@CONTROLLER_PORT@|$CAMPO_KAFKA_CONTROLLER_PORT|g" \
        -e "s|@DATA_DIR@|$KAFKA_DATA|g" \
        "$KAFKA_TEMPLATE_DIR/server.properties.in" >"$KAFKA_CONFIG"
    # Short client timeouts, so that a readiness probe against a broker that
    # is still starting fails fast and is retried.
    printf 'request.timeout.ms=5000\ndefault.api.timeout.ms=10000\n' >"$KAFKA_ADMIN_CONFIG"
}

format_storage() {
    if [[ -f "$KAFKA_DATA/meta.properties" ]]; then
        return 0
    fi
    local cluster_id
    cluster_id="$(run_kafka_tool kafka.tools.StorageTool random-uuid)"
    campo_log "$COMPONENT" "formatting storage in $KAFKA_DATA (cluster id $cluster_id)"
    install -d "$KAFKA_DATA"
    if ! run_kafka_tool kafka.tools.StorageTool format --config "$KAFKA_CONFIG" \
        --cluster-id "$cluster_id" --ignore-formatted >>"$KAFKA_OUT" 2>&1; then
        campo_show_log_tail "$KAFKA_OUT" 30
        campo_die "$COMPONENT" "formatting the storage in $KAFKA_DATA failed (output: $KAFKA_OUT)"
    fi
}

fail_start() {
    campo_show_log_tail "$KAFKA_LOG" 30
    campo_show_log_tail "$KAFKA_OUT" 30
    campo_die "$COMPONENT" "$1 (log: $KAFKA_LOG, stdout and stderr: $KAFKA_OUT)"
}

launch_broker() {
    local heap_options
    read -r -a heap_options <<<"$CAMPO_KAFKA_HEAP"
    printf '\n=== %s: starting broker on %s\n' "$(date -Is)" "$KAFKA_BOOTSTRAP" >>"$KAFKA_OUT"
    # setsid detaches the broker from this shell's session, so it survives
    # the terminal or CI step that started it. The inner shell writes its own
    # pid before exec, so the pid file names the JVM even if setsid forks.
    # shellcheck disable=SC2016 # expanded by the inner bash
    setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$KAFKA_PID_FILE" \
        java "${heap_options[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dkafka.logs.dir="$CAMPO_LOG_DIR" \
        -Dlog4j2.configurationFile="$KAFKA_TEMPLATE_DIR/log4j2.yaml" \
        -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_CONFIG" \
        >>"$KAFKA_OUT" 2>&1 </dev/null 9>&- &
    local deadline=$((SECONDS + 5))
    while [[ ! -s "$KAFKA_PID_FILE" ]] && ((SECONDS < deadline)); do
        sleep 0.1
    done
}

# Wait until the broker serves metadata, and fail early if the JVM exits.
# A broker that is still not serving at the deadline is stopped, so that the
# next start begins from a clean state.
wait_until_serving() {
    local started="$1" deadline=$((SECONDS + CAMPO_KAFKA_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! is_running; then
            fail_start "the broker exited during startup"
        fi
        if is_serving; then
            campo_log "$COMPONENT" "ready on $KAFKA_BOOTSTRAP (pid $(read_pid)) after $((SECONDS - started)) s"
            return 0
        fi
        sleep 1
    done
    stop_broker
    fail_start "timed out after $CAMPO_KAFKA_START_TIMEOUT s (CAMPO_KAFKA_START_TIMEOUT) waiting for the broker to serve metadata on $KAFKA_BOOTSTRAP. The broker was stopped. Raise CAMPO_KAFKA_START_TIMEOUT if the machine is slow"
}

check_port_free() {
    local port="$1" variable="$2"
    if campo_port_open "$CAMPO_HOST" "$port"; then
        campo_describe_port_owner "$port"
        campo_die "$COMPONENT" "port $port on $CAMPO_HOST is already in use by another process, not by the broker of $KAFKA_STATE. Stop that process or set $variable to a free port (log: $KAFKA_LOG)."
    fi
}

cmd_start() {
    require_java
    cmd_fetch quiet
    campo_prepare_state_dir
    campo_lock_state "$COMPONENT"
    install -d "$KAFKA_STATE"

    if is_running; then
        if is_serving; then
            campo_log "$COMPONENT" "already running (pid $(read_pid)) on $KAFKA_BOOTSTRAP; nothing to do"
            return 0
        fi
        campo_log "$COMPONENT" "running (pid $(read_pid)) but not serving on $KAFKA_BOOTSTRAP yet; waiting up to $CAMPO_KAFKA_START_TIMEOUT s"
        wait_until_serving "$SECONDS"
        return 0
    fi

    rm -f "$KAFKA_PID_FILE"
    check_port_free "$CAMPO_KAFKA_PORT" CAMPO_KAFKA_PORT
    check_port_free "$CAMPO_KAFKA_CONTROLLER_PORT" CAMPO_KAFKA_CONTROLLER_PORT
    render_config
    format_storage

    local started=$SECONDS
    campo_log "$COMPONENT" "starting on $KAFKA_BOOTSTRAP, controller on $CAMPO_HOST:$CAMPO_KAFKA_CONTROLLER_PORT (log: $KAFKA_LOG)"
    launch_broker
    wait_until_serving "$started"
}

cmd_stop() {
    if [[ -d "$CAMPO_STATE_DIR" ]]; then
        campo_lock_state "$COMPONENT"
    fi
    if ! is_running; then
        rm -f "$KAFKA_PID_FILE"
        campo_log "$COMPONENT" "not running (state: $KAFKA_STATE); nothing to stop"
        return 0
    fi
    stop_broker
}

# Stop the broker named by the pid file: SIGTERM starts a controlled
# shutdown, and SIGKILL follows after KAFKA_STOP_TIMEOUT seconds.
stop_broker() {
    local pid
    pid="$(read_pid)"
    campo_log "$COMPONENT" "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
    while pid_alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.5
    done
    if pid_alive "$pid"; then
        campo_warn "$COMPONENT" "pid $pid did not exit within $KAFKA_STOP_TIMEOUT s after SIGTERM, so sending SIGKILL (log: $KAFKA_LOG)"
        kill -KILL "$pid" 2>/dev/null || true
        while pid_alive "$pid"; do
            sleep 0.2
        done
    fi
    rm -f "$KAFKA_PID_FILE"
    campo_log "$COMPONENT" "stopped"
}

cmd_status() {
    if is_running; then
        local serving="accepting connections"
        campo_port_open "$CAMPO_HOST" "$CAMPO_KAFKA_PORT" || serving="NOT accepting connections"
        campo_log "$COMPONENT" "running (pid $(read_pid)), $serving on $KAFKA_BOOTSTRAP (state: $KAFKA_STATE, log: $KAFKA_LOG)"
        return 0
    fi
    campo_log "$COMPONENT" "not running (state: $KAFKA_STATE, log: $KAFKA_LOG)"
    return 3
}

cmd_topics() {
    require_java
    if ! is_running; then
        campo_die "$COMPONENT" "not running on $KAFKA_BOOTSTRAP. Start it with: bash $0 start"
    fi
    list_topics
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    fetch) cmd_fetch ;;
    topics) cmd_topics ;;
    *)
        echo "usage: $0 start|stop|status|fetch|topics" >&2
        exit 2
        ;;
esac
