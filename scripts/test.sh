#!/usr/bin/env bash
# The test command (README): installs what is missing on a Debian 12 machine with Swift 6.3,
# builds, runs every test, then checks deploy/ (deploy/check.sh). Tests that need real
# servers start throwaway MariaDB instances on 127.0.0.1 themselves (scripts/mariadb-sandbox.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium: the status page is checked in a real headless browser (ServiceTests).
scripts/setup-debian.sh chromium
swift build --build-tests
swift test --skip-build "$@"
# deploy/: alert rules and their unit tests, manifests, dashboard, systemd unit.
DEPLOY_CHECK_STRICT=1 deploy/check.sh
