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
#      DDL in the middle, printing the apply lag every second while it runs;
#   4. shows the lag falling to zero once the workload stops;
#   5. verifies the copy: every table's CHECKSUM and row count on both sides, and the target's
#      checkpoint (GTID position) against the source's;
#   6. stops everything and removes the directory (--keep leaves the servers running and says
#      how to reach them and how to stop them).
#
# Environment: DEMO_SECONDS=30 (workload length), DEMO_DIR (default: a new temporary directory),
# SOURCE_PORT=33061, TARGET_PORT=33062.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
keep=false
[ "${1:-}" = "--keep" ] && keep=true
seconds=${DEMO_SECONDS:-30}
source_port=${SOURCE_PORT:-33061}
target_port=${TARGET_PORT:-33062}
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
"$relay" run --source-url "mysql://root@127.0.0.1:$source_port?ssl-mode=DISABLED" --log-dir "$dir/log" --server-id 4242 \
    --start earliest --target-url "mysql://root@127.0.0.1:$target_port?ssl-mode=VERIFY_IDENTITY&ssl-ca=$dir/tls/ca.pem" \
    >"$dir/relay.log" 2>&1 &
relay_pid=$!
echo "binlog-relay run (pid $relay_pid), its log in $dir/relay.log"

# Apply lag as the checkpoint shows it: 0 when the target holds everything the source
# committed, else the age of the oldest source commit not yet applied (approximated by now -
# the last applied commit time).
lag() {
    local source_gtid applied
    source_gtid=$(src -e "SELECT @@gtid_binlog_pos")
    applied=$(dst -e "SELECT gtid_set, source_commit_us FROM binlog_relay.checkpoint WHERE channel='default' ORDER BY log_segment DESC, log_offset DESC LIMIT 1" 2>/dev/null || true)
    if [ "$(echo "$applied" | cut -f1)" = "$source_gtid" ]; then
        echo "0.0 s (target at $source_gtid)"
    elif [ -z "$applied" ]; then
        echo "(no checkpoint yet)"
    else
        echo "$(awk -v c="$(echo "$applied" | cut -f2)" -v n="$(date +%s%N)" 'BEGIN { printf "%.1f s", (n / 1000 - c) / 1e6 }') (target at $(echo "$applied" | cut -f1), source at $source_gtid)"
    fi
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
    echo "t=${i}s apply lag: $(lag)"
    sleep 1
done
wait "$load_pid"
grep -E "transactions:" "$dir/sysbench.log" | sed 's/^ */source committed: /'

say "Workload stopped: the lag falls to zero"
for _ in $(seq 1 120); do
    line=$(lag)
    echo "apply lag: $line"
    case "$line" in 0.0*) break ;; esac
    sleep 1
done

say "Verifying the copy, table by table"
status=0
for table in $(src -e "SELECT CONCAT(TABLE_SCHEMA,'.',TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('shop','sbtest') ORDER BY 1"); do
    a=$(src -e "CHECKSUM TABLE $table; SELECT COUNT(*) FROM $table" | tr '\n\t' '  ')
    b=$(dst -e "CHECKSUM TABLE $table; SELECT COUNT(*) FROM $table" | tr '\n\t' '  ')
    if [ "$a" = "$b" ]; then echo "  equal    $a"; else echo "  DIFFERENT source: $a target: $b"; status=1; fi
done
echo "source GTID position: $(src -e 'SELECT @@gtid_binlog_pos')"
dst -e "SELECT CONCAT('target checkpoint:  ', gtid_set, ' (', transactions, ' source transactions applied, each once)') FROM binlog_relay.checkpoint WHERE channel='default' ORDER BY log_segment DESC, log_offset DESC LIMIT 1"
[ $status -eq 0 ] && echo "The target is an exact copy of the source." || echo "The copy differs."

if $keep; then
    say "Left running"
    echo "source: mariadb --no-defaults -h127.0.0.1 -P$source_port -uroot"
    echo "target: mariadb --no-defaults -h127.0.0.1 -P$target_port -uroot --ssl"
    echo "relay:  pid $relay_pid, log $dir/relay.log"
    echo "stop:   kill $relay_pid; $sandbox stop $dir/source; $sandbox stop $dir/target; rm -rf $dir"
    relay_pid=""
fi
exit $status
