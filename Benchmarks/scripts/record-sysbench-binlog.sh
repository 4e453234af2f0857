#!/usr/bin/env bash
# record-sysbench-binlog.sh - record row-based MariaDB binlogs of a sysbench
# write workload, as benchmark input for the decoder and the relay log.
#
# Usage: Benchmarks/scripts/record-sysbench-binlog.sh [SIZE_MB [OUTDIR]]
#
#   SIZE_MB  approximate total size of the recorded binlogs (default 300)
#   OUTDIR   where the binlog files are copied (default Benchmarks/data/sysbench,
#            which is git-ignored); existing sysbench-bin.* files there are
#            replaced
#
# Starts a throwaway server with scripts/mariadb-sandbox.sh (ROW format, CRC32,
# annotate rows on, max_binlog_size = FILE_MB), runs `sysbench oltp_write_only`
# until about 60% of SIZE_MB is written and then `sysbench oltp_insert` until
# SIZE_MB is reached, runs FLUSH BINARY LOGS and copies every closed binlog file
# (sysbench-bin.000001, ...). The first file also holds `sysbench ... prepare`
# (CREATE TABLE + bulk multi-row INSERTs).
#
# Environment (all optional):
#   PORT=33320  FILE_MB=100  TABLES=4  TABLE_SIZE=10000  THREADS=4
#   MARIADBD_OPTS="..."   extra mariadbd options (e.g. --binlog-row-metadata=FULL)
#   SYSBENCH_LUA_DIR=/usr/share/sysbench   where oltp_*.lua live
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/../.." && pwd))
sandbox="$root/scripts/mariadb-sandbox.sh"

size_mb=${1:-300}
outdir=${2:-"$root/Benchmarks/data/sysbench"}
port=${PORT:-33320}
file_mb=${FILE_MB:-100}
tables=${TABLES:-4}
table_size=${TABLE_SIZE:-10000}
threads=${THREADS:-4}
lua_dir=${SYSBENCH_LUA_DIR:-/usr/share/sysbench}

die() {
    echo "record-sysbench-binlog.sh: $*" >&2
    exit 1
}
log() {
    echo "record-sysbench-binlog.sh: $*" >&2
}

case "$size_mb" in '' | *[!0-9]*) die "SIZE_MB must be a whole number of MB, got '$size_mb'" ;; esac
[ "$size_mb" -gt 0 ] || die "SIZE_MB must be positive"
for tool in mariadb sysbench; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
[ -x "$sandbox" ] || die "$sandbox not found or not executable"
for t in oltp_write_only oltp_insert; do
    [ -f "$lua_dir/$t.lua" ] || die "$lua_dir/$t.lua not found (set SYSBENCH_LUA_DIR)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/sysbench-binlog.XXXXXX")
server=""
cleanup() {
    local rc=$?
    if [ -n "$server" ]; then
        "$sandbox" stop "$server" || true
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

client() {
    mariadb --no-defaults -h127.0.0.1 -P "$port" -uroot --batch --skip-column-names "$@"
}

sb() {
    local test=$1
    shift
    (cd "$lua_dir" && sysbench "$lua_dir/$test.lua" \
        --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" \
        --mysql-user=root --mysql-password= --mysql-db=sbtest \
        --tables="$tables" --table-size="$table_size" --threads="$threads" \
        --rand-seed=1 "$@")
}

binlog_bytes() {
    client -e 'SHOW BINARY LOGS' | awk '{s += $2} END {print s + 0}'
}

target=$((size_mb * 1024 * 1024))
server="$work/server"
# shellcheck disable=SC2086 # MARIADBD_OPTS is a list of options on purpose
"$sandbox" start "$server" "$port" \
    --log-bin="$server/binlog/sysbench-bin" \
    --max-binlog-size=$((file_mb * 1024 * 1024)) \
    --binlog-annotate-row-events=ON \
    --innodb-buffer-pool-size=512M \
    --innodb-log-file-size=512M \
    --innodb-flush-log-at-trx-commit=2 \
    --sync-binlog=0 \
    --max-connections=200 \
    ${MARIADBD_OPTS:-}

client -e 'CREATE DATABASE sbtest'
log "sysbench prepare: $tables tables x $table_size rows"
sb oltp_write_only prepare >"$work/prepare.log"

# run TEST UNTIL_BYTES: run TEST in slices of --events until the binlogs reach
# UNTIL_BYTES (at least one slice). The slice size is re-estimated from the
# bytes per event of the previous slice so the target is not overshot much.
run() {
    local test=$1 until=$2 now new events=500 per remaining
    now=$(binlog_bytes)
    while :; do
        sb "$test" --events="$events" --time=0 --report-interval=0 run >>"$work/$test.log"
        new=$(binlog_bytes)
        log "$test: $((new / 1024 / 1024)) MB of $((until / 1024 / 1024)) MB"
        [ "$new" -lt "$until" ] || break
        per=$(((new - now) / events + 1))
        remaining=$((until - new))
        events=$((remaining / per + 1))
        [ "$events" -ge 100 ] || events=100
        # Keep slices to about 64 MB so progress stays visible.
        [ "$events" -le $((67108864 / per + 1)) ] || events=$((67108864 / per + 1))
        now=$new
    done
}
base=$(binlog_bytes)
log "prepare wrote $((base / 1024 / 1024)) MB"
rest=$((target > base ? target - base : 0))
run oltp_write_only $((base + rest * 6 / 10))
run oltp_insert "$target"

client -e 'FLUSH BINARY LOGS'
logs=$(client -e 'SHOW BINARY LOGS' | awk '{print $1}')
"$sandbox" stop "$server"
server=""

mkdir -p "$outdir"
rm -f "$outdir"/sysbench-bin.[0-9]*
last=$(printf '%s\n' "$logs" | tail -n 1)
total=0
for f in $logs; do
    [ "$f" = "$last" ] && continue
    cp "$work/server/binlog/$f" "$outdir/$f"
    chmod 644 "$outdir/$f"
    bytes=$(wc -c <"$outdir/$f")
    total=$((total + bytes))
    log "wrote $outdir/$f ($bytes bytes)"
done
log "done: $((total / 1024 / 1024)) MB in $outdir"
