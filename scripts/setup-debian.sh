#!/usr/bin/env bash
# Installs the Debian 12 packages the build and the tests need, when missing.
# Runs apt-get as root, or through sudo for other users.
set -euo pipefail

packages=(libmariadb-dev libssl-dev zlib1g-dev libzstd-dev pkg-config python3 zstd mariadb-client mariadb-server openssl strace sysbench
          prometheus python3-yaml)  # promtool and PyYAML for deploy/check.sh
# More packages a caller needs (a benchmark's `time`, say): scripts/setup-debian.sh time
packages+=("$@")
missing=()
for pkg in "${packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d keeps Debian from starting the system MariaDB: tests run their own servers.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's prometheus package is here for promtool only: its server must not run, now or at boot.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
    $sudo systemctl disable prometheus.service >/dev/null 2>&1 || true
    $sudo systemctl stop prometheus.service >/dev/null 2>&1 || true
fi
