#!/usr/bin/env bash
# Install the Debian packages that the local servers and the tests need, then
# fetch the Kafka jars into the Maven-backed cache. Runs as root on Debian 12.
# Idempotent: when everything is present it runs no apt-get at all.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
started=$SECONDS

packages=(
    postgresql-15
    postgresql-client-15
    postgresql-contrib
    postgresql-15-postgis-3
    # Python docker-compose 1.x validates the compose file without an engine.
    docker-compose
    # runuser, flock, setsid and timeout are used by deploy/local/*.sh.
    util-linux
    coreutils
)
# Java and Maven may come from outside apt (for example SDKMAN), so they are
# checked by command rather than by package.
if ! command -v java >/dev/null 2>&1; then
    packages+=(openjdk-17-jre-headless)
fi
if ! command -v mvn >/dev/null 2>&1; then
    packages+=(maven)
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done

if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $EUID -ne 0 ]]; then
        echo "ERROR: missing Debian packages: ${missing[*]}. Run this script as root, or install them with: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "==> install-system: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # No recommends: docker-compose would otherwise pull in the docker.io engine.
    apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "==> install-system: all Debian packages already installed"
fi

bash "$repo_root/deploy/local/kafka.sh" fetch

echo "==> install-system: done in $((SECONDS - started)) s"
