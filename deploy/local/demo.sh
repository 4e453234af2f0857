#!/usr/bin/env bash
# demo.sh - binlog-relay end to end on this machine, in a few minutes.
#
# Usage: deploy/local/demo.sh [--keep]
#
# On a fresh Debian 12 machine with Swift: installs what is missing (apt-get, through
# scripts/setup-debian.sh), builds the relay (release), then
#   1. starts a MariaDB source (127.0.0.1:33061) and a target with TLS (127.0.0.1:33062,
#      certificates made here with openssl), both throwaway servers in a temporary directory;
#   2. starts `binlog-relay run` from the source to the target over verified TLS;
#   3. drives a write workload on the source (sysbench oltp_write_only, 4 threads, 30 s) with
#      DDL in the middle, printing the relay's lag (GET /status) every second while it runs;
#   4. shows the lag falling to zero once the workload stops;
#   5. verifies the copy with `binlog-relay verify` (chunked checksums, table by table) and
#      compares the target's checkpoint (GTID position) with the source's;
#   6. stops everything and removes the directory (--keep leaves the servers running and says
#      how to reach them and how to stop them).
#
# Environment: DEMO_SECONDS=30 (workload length), DEMO_DIR (default: a new temporary directory),
# SOURCE_PORT=33061, TARGET_PORT=33062, HTTP_PORT=9104 (the relay's metrics, status and page).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
keep=false
[ "${1:-}" = "--keep" ] && keep=true
seconds=${DEMO_SECONDS:-30}
source_port=${SOURCE_PORT:-33061}
target_port=${TARGET_PORT:-33062}
http_port=${HTTP_PORT:-9104}
dir=${DEMO_DIR:-$(mktemp -d /tmp/binlog-relay-demo.XXXXXX)}
sandbox="$root/scripts/mariadb-sandbox.sh"
relay_pid=""

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null || true
    if ! $keep; then
        "$sandbox" stop "$dir/source" >/dev/null 2>&1 || true
        "$sandbox" stop "$dir/target" >/dev/null 2>&1 || true
        rm -rf "$dir"
    fi
}
trap cleanup EXIT

say "Installing what is missing and building (release)"
"$root/scripts/setup-debian.sh"  # MariaDB server and client, sysbench, openssl, the build's libraries
(cd "$root" && swift build -c release --product binlog-relay 2>&1 | tail -1)
relay="$root/.build/release/binlog-relay"

say "Starting a source and a TLS target in $dir"
"$root/scripts/make-tls-certificates.sh" "$dir/tls" "binlog-relay demo"
"$sandbox" start "$dir/source" "$source_port" --server-id=1 --binlog-row-metadata=FULL >/dev/null
"$sandbox" start "$dir/target" "$target_port" --server-id=2 \
    --ssl-ca="$dir/tls/ca.pem" --ssl-cert="$dir/tls/server.pem" --ssl-key="$dir/tls/server.key" >/dev/null
src() { mariadb --no-defaults -h127.0.0.1 -P"$source_port" -uroot -N -B "$@"; }
dst() { mariadb --no-defaults -h127.0.0.1 -P"$target_port" -uroot --ssl -N -B "$@"; }
echo "source 127.0.0.1:$source_port, target 127.0.0.1:$target_port ($(dst -e "SHOW STATUS LIKE 'Ssl_version'" | cut -f2) offered)"

say "Starting the relay: source -> local log -> target over verified TLS"
src -e "CREATE DATABASE shop; CREATE TABLE shop.orders (id BIGINT PRIMARY KEY AUTO_INCREMENT, placed DATETIME(6), total DECIMAL(12,2), note VARCHAR(100)) ENGINE=InnoDB"
# The settings as an operator would write them (docs/configuration.md).
cat >"$dir/relay.yaml" <<YAML
source:
  url: mysql://root@127.0.0.1:$source_port?ssl-mode=DISABLED
  server_id: 4242
  start: earliest
target:
  url: mysql://root@127.0.0.1:$target_port?ssl-mode=VERIFY_IDENTITY&ssl-ca=$dir/tls/ca.pem
log:
  dir: $dir/log
http:
  listen: 127.0.0.1:$http_port
YAML
"$relay" run --config "$dir/relay.yaml" >"$dir/relay.log" 2>&1 &
relay_pid=$!
echo "binlog-relay run --config $dir/relay.yaml (pid $relay_pid), its log in $dir/relay.log"
for _ in $(seq 1 100); do "$relay" status --url "127.0.0.1:$http_port" >/dev/null 2>&1 && break; sleep 0.2; done
"$relay" status --url "127.0.0.1:$http_port" | sed 's/^/   /' || true

# Lag as the relay measures it (GET /status): receive, durable and apply lag from the source's
# commit timestamps, 0 when heartbeats show the target has everything.
lag() {
    "$relay" status --url "127.0.0.1:$http_port" --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
lag = s["lag"]
f = lambda v: "?" if v is None else "%.1f s" % v
print("apply %s (receive %s, durable %s), backlog %s transactions, %s" % (f(lag.get("apply")), f(lag.get("receive")), f(lag.get("relay")), s["backlog"].get("transactions", "?"), s["state"]))
' || echo "(relay not answering)"
}

say "Workload: sysbench oltp_write_only, 4 threads, ${seconds} s, with DDL in the middle"
src -e "CREATE DATABASE sbtest"
sysbench oltp_write_only --mysql-host=127.0.0.1 --mysql-port="$source_port" --mysql-user=root --tables=4 --table-size=10000 prepare >/dev/null
sysbench oltp_write_only --mysql-host=127.0.0.1 --mysql-port="$source_port" --mysql-user=root --tables=4 --table-size=10000 \
    --threads=4 --time="$seconds" run >"$dir/sysbench.log" 2>&1 &
load_pid=$!
for ((i = 1; i <= seconds; i++)); do
    if [ "$i" -eq $((seconds / 2)) ]; then
        src -e "ALTER TABLE shop.orders ADD COLUMN channel ENUM('web','store') NOT NULL DEFAULT 'web'"
        echo "   (DDL on the source: ALTER TABLE shop.orders ADD COLUMN channel …)"
    fi
    src -e "INSERT INTO shop.orders (placed, total, note) VALUES (NOW(6), RAND()*1000, 'order $i')"
    echo "t=${i}s lag: $(lag)"
    sleep 1
done
wait "$load_pid"
grep -E "transactions:" "$dir/sysbench.log" | sed 's/^ */source committed: /'

say "Workload stopped: the lag falls to zero"
for _ in $(seq 1 120); do
    line=$(lag)
    echo "lag: $line"
    case "$line" in "apply 0.0 s"*"backlog 0 "*) break ;; esac
    sleep 1
done

say "Verifying the copy: binlog-relay verify (chunked checksums by primary key, table by table)"
status=0
"$relay" verify --source-url "mysql://root@127.0.0.1:$source_port?ssl-mode=DISABLED" \
    --target-url "mysql://root@127.0.0.1:$target_port?ssl-mode=VERIFY_IDENTITY&ssl-ca=$dir/tls/ca.pem" || status=1
echo "source GTID position: $(src -e 'SELECT @@gtid_binlog_pos')"
dst -e "SELECT CONCAT('target checkpoint:  ', gtid_set, ' (', transactions, ' source transactions applied, each once)') FROM binlog_relay.checkpoint WHERE channel='default' ORDER BY log_segment DESC, log_offset DESC LIMIT 1"
[ $status -eq 0 ] && echo "The target is an exact copy of the source." || echo "The copy differs."

say "Where to look"
echo "metrics:     curl -s http://127.0.0.1:$http_port/metrics | grep '^binlog_relay_'   (docs/metrics.md)"
echo "status page: http://127.0.0.1:$http_port/   status: $relay status --url 127.0.0.1:$http_port"
echo "(the relay stops with this script; --keep leaves everything running)"
"$relay" status --url "127.0.0.1:$http_port" | sed 's/^/   /' || true

if $keep; then
    say "Left running"
    echo "source: mariadb --no-defaults -h127.0.0.1 -P$source_port -uroot"
    echo "target: mariadb --no-defaults -h127.0.0.1 -P$target_port -uroot --ssl"
    echo "relay:  pid $relay_pid, log $dir/relay.log, http://127.0.0.1:$http_port/ (metrics, status page)"
    echo "stop:   kill $relay_pid; $sandbox stop $dir/source; $sandbox stop $dir/target; rm -rf $dir"
    relay_pid=""
fi
exit $status
