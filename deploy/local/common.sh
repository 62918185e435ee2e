# shellcheck shell=bash
# Shared settings and helpers for the local PostgreSQL and Kafka scripts.
# Sourced by postgres.sh, kafka.sh and infra.sh, never run on its own.
# Every CAMPO_* setting below except CAMPO_HOST and CAMPO_KAFKA_VERSION can be
# overridden from the environment.

# The variables are used by the scripts that source this file.
# shellcheck disable=SC2034

CAMPO_LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
CAMPO_REPO_ROOT="$(cd "$CAMPO_LOCAL_DIR/../.." && pwd -P)"

# Both servers bind to loopback only, and the scripts check readiness there.
CAMPO_HOST=127.0.0.1

CAMPO_PG_BIN="${CAMPO_PG_BIN:-/usr/lib/postgresql/15/bin}"
CAMPO_PG_PORT="${CAMPO_PG_PORT:-55432}"
CAMPO_PG_USER="${CAMPO_PG_USER:-campo}"
CAMPO_PG_PASSWORD="${CAMPO_PG_PASSWORD:-campo}"
CAMPO_PG_DB="${CAMPO_PG_DB:-campo}"
# 1 turns off fsync, synchronous_commit and full_page_writes: fast, but a crash
# of the machine can corrupt the cluster. The default is 1 when CI is set.
if [[ "${CI:-}" == "true" || "${CI:-}" == "1" ]]; then
    CAMPO_PG_FAST="${CAMPO_PG_FAST:-1}"
else
    CAMPO_PG_FAST="${CAMPO_PG_FAST:-0}"
fi

CAMPO_KAFKA_VERSION=4.1.1
CAMPO_KAFKA_PORT="${CAMPO_KAFKA_PORT:-59092}"
CAMPO_KAFKA_CONTROLLER_PORT="${CAMPO_KAFKA_CONTROLLER_PORT:-59093}"
CAMPO_KAFKA_HEAP="${CAMPO_KAFKA_HEAP:--Xms256m -Xmx768m}"
# Seconds to wait for the broker to serve metadata after it is launched.
CAMPO_KAFKA_START_TIMEOUT="${CAMPO_KAFKA_START_TIMEOUT:-90}"

CAMPO_CACHE_DIR="${CAMPO_CACHE_DIR:-${HOME:-/root}/.cache/campo}"

campo_log() {
    local component="$1"
    shift
    printf '==> %s: %s\n' "$component" "$*" >&2
}

campo_warn() {
    local component="$1"
    shift
    printf 'WARNING: %s: %s\n' "$component" "$*" >&2
}

campo_die() {
    local component="$1"
    shift
    printf 'ERROR: %s: %s\n' "$component" "$*" >&2
    exit 1
}

# Run a command as the OS user that owns the PostgreSQL cluster. PostgreSQL
# refuses to run as root, so for root the owner is the "postgres" user that
# the Debian packages create. Any other user owns the cluster itself.
campo_as_pg_owner() {
    if [[ $EUID -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Succeed when the OS user that will own the cluster can reach DIR. When the
# "postgres" user does not exist yet (packages not installed), the check runs
# as "nobody", because the postgres user gets no more access than that.
campo_pg_owner_can_traverse() {
    local dir="$1"
    if [[ $EUID -ne 0 ]]; then
        return 0
    fi
    local user=postgres
    if ! id -u postgres >/dev/null 2>&1; then
        user=nobody
    fi
    runuser -u "$user" -- test -x "$dir" 2>/dev/null
}

# Default state directory: <repo>/.local, unless the cluster owner cannot
# traverse the repository path (for example a clone under /root, which is
# mode 700). Then it is /var/tmp/campo-<first 12 hex digits of the sha256 of
# the repository path>, so two clones never share data.
campo_default_state_dir() {
    if campo_pg_owner_can_traverse "$CAMPO_REPO_ROOT"; then
        printf '%s\n' "$CAMPO_REPO_ROOT/.local"
    else
        local digest
        digest="$(printf '%s' "$CAMPO_REPO_ROOT" | sha256sum | cut -c1-12)"
        printf '%s\n' "/var/tmp/campo-$digest"
    fi
}

CAMPO_STATE_DIR="${CAMPO_STATE_DIR:-$(campo_default_state_dir)}"
# Relative paths are taken from the caller's cwd. They are made absolute here
# because the servers and pg_ctl run from other directories.
if [[ "$CAMPO_STATE_DIR" != /* ]]; then
    CAMPO_STATE_DIR="$PWD/$CAMPO_STATE_DIR"
fi
if [[ "$CAMPO_CACHE_DIR" != /* ]]; then
    CAMPO_CACHE_DIR="$PWD/$CAMPO_CACHE_DIR"
fi
if [[ -n "${CAMPO_PG_DATA:-}" && "$CAMPO_PG_DATA" != /* ]]; then
    CAMPO_PG_DATA="$PWD/$CAMPO_PG_DATA"
fi
CAMPO_LOG_DIR="$CAMPO_STATE_DIR/logs"

# Create the state and log directories. They stay owned by the caller with
# mode 755 so the postgres user can traverse them, and a .gitignore keeps a
# state directory inside the repository out of git.
campo_prepare_state_dir() {
    install -d -m 755 "$CAMPO_STATE_DIR" "$CAMPO_LOG_DIR"
    if [[ "$CAMPO_STATE_DIR" == "$CAMPO_REPO_ROOT"/* && ! -e "$CAMPO_STATE_DIR/.gitignore" ]]; then
        printf '*\n' >"$CAMPO_STATE_DIR/.gitignore"
    fi
}

# Hold an exclusive lock on $CAMPO_STATE_DIR/NAME.lock until the calling
# script exits, so that concurrent starts or stops of one server run one
# after the other. The lock is on fd 9, so a command that leaves a daemon
# behind must close it (9>&-), or the daemon keeps the lock.
campo_lock_state() {
    local component="$1" lock_file="$CAMPO_STATE_DIR/$1.lock"
    exec 9>"$lock_file"
    if ! flock -w 300 9; then
        campo_die "$component" "timed out after 300 s waiting for the lock $lock_file. Another start or stop of this server is still running; wait for it or end it"
    fi
}

# Succeed when something accepts TCP connections on HOST:PORT within 1 s.
campo_port_open() {
    local host="$1" port="$2"
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
}

# Print the listening socket and owning process for PORT, when ss is available.
campo_describe_port_owner() {
    local port="$1"
    if command -v ss >/dev/null 2>&1; then
        ss -Hltnp "sport = :$port" 2>/dev/null | sed 's/^/    /' >&2 || true
    fi
}

# Print the last LINES lines of FILE to stderr, indented, with a header
# naming the file so the reader knows where to look for the rest.
campo_show_log_tail() {
    local file="$1" lines="${2:-30}"
    if [[ -s "$file" ]]; then
        printf -- '--- last %s lines of %s ---\n' "$lines" "$file" >&2
        tail -n "$lines" "$file" | sed 's/^/    /' >&2
        printf -- '--- end of %s ---\n' "$file" >&2
    else
        printf -- '--- %s is empty or missing ---\n' "$file" >&2
    fi
}

# Install Debian packages that are not installed yet. Needs root, because
# the scripts run as root on CI; other users get an error naming the command.
campo_ensure_apt_packages() {
    local component="$1"
    shift
    local missing=() package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    if [[ $EUID -ne 0 ]]; then
        campo_die "$component" "missing Debian packages: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}"
    fi
    campo_log "$component" "installing missing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}
