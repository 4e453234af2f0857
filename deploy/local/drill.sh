#!/usr/bin/env bash
# drill.sh - a disaster-recovery drill on this machine: kill the source mid-load, promote the
# target, and measure RPO and RTO.
#
# Usage: deploy/local/drill.sh [--async]
#
#   1. starts a MariaDB source (semi-synchronous replication on, AFTER_SYNC) and a TLS target on
#      127.0.0.1, throwaway servers in a temporary directory;
#   2. starts `binlog-relay run --semi-sync` between them and waits until the source runs
#      semi-sync with the relay as its replica;
#   3. drives a write load on the source: DRILL_CLIENTS clients, each inserting rows one
#      autocommit transaction at a time and recording every commit the server acknowledged;
#   4. after DRILL_SECONDS, kills the source with SIGKILL (a crash, not a shutdown);
#   5. runs `binlog-relay promote` against the running relay;
#   6. reports
#        RPO: commits the clients saw acknowledged that the target lacks (0 with semi-sync: the
#             relay acknowledges only what is fsynced in its log, and promote applies the log);
#        RTO: from the kill to the target ready for writes (promote's own share printed too);
#      and exits 0 when RPO is 0 (with --async, semi-sync is off: RPO is measured, not required).
#
# Environment: DRILL_SECONDS=10, DRILL_CLIENTS=4, DRILL_DIR (default: a new temporary directory),
# SOURCE_PORT=33081, TARGET_PORT=33082, HTTP_PORT=9105, BINLOG_RELAY_BIN (default: a release
# build made here), DRILL_KEEP=1 keeps the directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
semi_sync=true
[ "${1:-}" = "--async" ] && semi_sync=false
seconds=${DRILL_SECONDS:-10}
clients=${DRILL_CLIENTS:-4}
source_port=${SOURCE_PORT:-33081}
target_port=${TARGET_PORT:-33082}
http_port=${HTTP_PORT:-9105}
dir=${DRILL_DIR:-$(mktemp -d /tmp/binlog-relay-drill.XXXXXX)}
sandbox="$root/scripts/mariadb-sandbox.sh"
relay_pid=""
load_pids=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
now() { date +%s.%N; }

cleanup() {
    for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null || true
    "$sandbox" stop "$dir/source" >/dev/null 2>&1 || true
    "$sandbox" stop "$dir/target" >/dev/null 2>&1 || true
    [ "${DRILL_KEEP:-0}" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT

if [ -n "${BINLOG_RELAY_BIN:-}" ]; then
    relay=$BINLOG_RELAY_BIN
else
    say "Installing what is missing and building (release)"
    "$root/scripts/setup-debian.sh"
    (cd "$root" && swift build -c release --product binlog-relay 2>&1 | tail -1)
    relay="$root/.build/release/binlog-relay"
fi

say "Starting a source (semi-sync $($semi_sync && echo on || echo off)) and a TLS target in $dir"
"$root/scripts/make-tls-certificates.sh" "$dir/tls" "binlog-relay drill" >/dev/null
source_options=(--server-id=1 --binlog-row-metadata=FULL)
if $semi_sync; then
    # A long timeout: the source must not fall back to async during the drill (that would be an
    # RPO risk the drill is there to show, not to hide).
    source_options+=(--rpl-semi-sync-master-enabled=ON --rpl-semi-sync-master-timeout=60000 --rpl-semi-sync-master-wait-point=AFTER_SYNC)
fi
"$sandbox" start "$dir/source" "$source_port" "${source_options[@]}" >/dev/null
"$sandbox" start "$dir/target" "$target_port" --server-id=2 \
    --ssl-ca="$dir/tls/ca.pem" --ssl-cert="$dir/tls/server.pem" --ssl-key="$dir/tls/server.key" >/dev/null
src() { mariadb --no-defaults -h127.0.0.1 -P"$source_port" -uroot -N -B "$@"; }
dst() { mariadb --no-defaults -h127.0.0.1 -P"$target_port" -uroot --ssl -N -B "$@"; }
src -e "CREATE DATABASE drill; CREATE TABLE drill.orders (id BIGINT PRIMARY KEY, client INT NOT NULL, placed DATETIME(6) NOT NULL, note VARCHAR(64)) ENGINE=InnoDB"

say "Starting the relay$($semi_sync && echo " as a semi-sync replica")"
export BINLOG_RELAY_SOURCE_URL="mysql://root@127.0.0.1:$source_port?ssl-mode=DISABLED"
export BINLOG_RELAY_TARGET_URL="mysql://root@127.0.0.1:$target_port?ssl-mode=VERIFY_IDENTITY&ssl-ca=$dir/tls/ca.pem"
export BINLOG_RELAY_LOG_DIR="$dir/log" BINLOG_RELAY_SERVER_ID=4343 BINLOG_RELAY_SOURCE_START=earliest
export BINLOG_RELAY_HTTP_LISTEN="127.0.0.1:$http_port"
export BINLOG_RELAY_SOURCE_SEMI_SYNC=$semi_sync
"$relay" run >"$dir/relay.log" 2>&1 &
relay_pid=$!
for _ in $(seq 1 100); do
    state=$("$relay" status --url "127.0.0.1:$http_port" 2>/dev/null || true)
    if $semi_sync; then
        case "$state" in *"semi-sync on"*"(ready)"* | *"(ready)"*"semi-sync on"*) break ;; esac
    else
        case "$state" in *"(ready)"*) break ;; esac
    fi
    sleep 0.2
done
"$relay" status --url "127.0.0.1:$http_port" | sed 's/^/   /' || { tail -20 "$dir/relay.log"; exit 2; }

say "Load: $clients clients writing for ${seconds} s, every acknowledged commit recorded"
for ((c = 1; c <= clients; c++)); do
    # One autocommit INSERT per line, each followed by a SELECT that prints its id: the id is
    # printed only once the server has acknowledged the commit (after the semi-sync ACK).
    awk -v c="$c" 'BEGIN { for (i = 1; i <= 100000000; i++) { id = c * 1000000000 + i; printf "INSERT INTO drill.orders VALUES (%d, %d, NOW(6), REPEAT(\"x\", %d)); SELECT %d;\n", id, c, i % 64, id } }' |
        mariadb --no-defaults -h127.0.0.1 -P"$source_port" -uroot -N -B --unbuffered >"$dir/acked-$c.txt" 2>"$dir/client-$c.err" &
    load_pids+=($!)
done
sleep "$seconds"

say "Killing the source (SIGKILL) mid-load"
killed_at=$(now)
kill -KILL "$(cat "$dir/source/mysqld.pid")"
for pid in "${load_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
load_pids=()
acked=$(cat "$dir"/acked-*.txt | grep -c . || true)
echo "clients saw $acked commits acknowledged before the crash"

say "Promoting the target"
promote_started=$(now)
"$relay" promote --url "127.0.0.1:$http_port" | sed 's/^/   /'
ready_at=$(now)
wait "$relay_pid" 2>/dev/null || true
relay_pid=""
dst -e "SELECT 1" >/dev/null

say "Measuring"
cat "$dir"/acked-*.txt | sort -u >"$dir/acked.txt"
dst -e "SELECT id FROM drill.orders" | sort -u >"$dir/target-ids.txt"
missing=$(comm -23 "$dir/acked.txt" "$dir/target-ids.txt" | wc -l)
extra=$(comm -13 "$dir/acked.txt" "$dir/target-ids.txt" | wc -l)
rto=$(awk -v a="$killed_at" -v b="$ready_at" 'BEGIN { printf "%.2f", b - a }')
promote_took=$(awk -v a="$promote_started" -v b="$ready_at" 'BEGIN { printf "%.2f", b - a }')
echo "acknowledged to clients: $acked; on the target: $(wc -l <"$dir/target-ids.txt")"
echo "RPO: $missing acknowledged transactions missing on the target"
echo "     ($extra more on the target than acknowledged: commits in flight at the crash, durable in the relay's log but never confirmed to their client)"
echo "RTO: $rto s from the kill to the target ready for writes (promote itself: $promote_took s)"
if $semi_sync && [ "$missing" -ne 0 ]; then
    echo "DRILL FAILED: semi-sync was on, yet acknowledged commits are missing" >&2
    exit 1
fi
echo "Drill passed."
