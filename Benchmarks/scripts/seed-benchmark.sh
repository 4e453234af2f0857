#!/usr/bin/env bash
# seed-benchmark.sh - `binlog-relay seed` against `mariadb-dump --single-transaction | mariadb` of the
# same data, in the same run, on the same servers.
#
# Usage: Benchmarks/scripts/seed-benchmark.sh [--runs N] [--no-build]
#
# Servers (scripts/mariadb-sandbox.sh, MariaDB from the distribution, no option files):
#   source  127.0.0.1:PORT,   server_id 1, ROW binlog (the sandbox's settings)
#   target  127.0.0.1:PORT+1, server_id 2, TLS with a certificate for IP:127.0.0.1 signed by a CA
#           made in the temporary directory; both with the same durability and buffer pool.
# Data: sysbench oltp prepare, SYSBENCH_TABLES tables of SYSBENCH_TABLE_SIZE rows (id, k, c
# CHAR(120), pad CHAR(60)), plus every-type.sql's tables once (every column type).
#
# Timed, in turn, each run on an emptied target (the data schemas and binlog_relay dropped, then
# `sync`), all over verified TLS to the target (the relay's default):
#   dump | client   mariadb-dump --single-transaction --master-data=2 --databases sbtest every_type
#                     -h127.0.0.1 -PPORT | mariadb --ssl-ca=CA --ssl-verify-server-cert -h127.0.0.1 -PPORT+1
#                   (mariadb-dump's defaults: extended inserts up to net_buffer_length, DISABLE KEYS,
#                   UNIQUE_CHECKS=0 and FOREIGN_KEY_CHECKS=0 in the dump's header; the dump and the
#                   load run side by side, two processes)
#   seed N          binlog-relay seed --connections N --progress none --include sbtest
#                     --include every_type, with the target URL
#                     mysql://root@127.0.0.1:PORT+1?ssl-mode=VERIFY_IDENTITY&ssl-ca=CA
#                   for each N in CONNECTIONS (default "1 4")
# After every run the target must hold the source's data: CHECKSUM TABLE of every sbtest table on
# both (a mismatch marks the run MISMATCH and the script exits 1 at the end). Seconds are wall
# clock, median of --runs; rows/s counts the sysbench rows.
#
# Environment (defaults):
#   PORT=33380                 source; PORT+1 target
#   RELAY_SCRATCH=.build-release  build folder;  RELAY_BIN=PATH  measure this binary instead
#   SYSBENCH_TABLES=4 SYSBENCH_TABLE_SIZE=250000   (1,000,000 rows, about 220 MB of table data)
#   CONNECTIONS="1 4"          binlog-relay seed --connections values
#   SEED_OPTS=""               more `binlog-relay seed` options
#   INNODB_BUFFER_POOL_SIZE=1G INNODB_LOG_FILE_SIZE=512M INNODB_FLUSH_LOG_AT_TRX_COMMIT=1 on both
#   KEEP_WORK=1                keep the temporary directory
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/../.." && pwd))
sandbox="$root/scripts/mariadb-sandbox.sh"
argv=("$@")
runs=1
build=true
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --no-build) build=false; shift ;;
        *) echo "usage: $0 [--runs N] [--no-build]" >&2; exit 2 ;;
    esac
done
case "$runs" in '' | *[!0-9]* | 0) echo "--runs needs a positive number" >&2; exit 2 ;; esac

port=${PORT:-33380}
tport=$((port + 1))
scratch=${RELAY_SCRATCH:-.build-release}
sb_tables=${SYSBENCH_TABLES:-4}
sb_table_size=${SYSBENCH_TABLE_SIZE:-250000}
read -r -a connections <<<"${CONNECTIONS:-1 4}"
read -r -a seed_opts <<<"${SEED_OPTS:-}"
pool=${INNODB_BUFFER_POOL_SIZE:-1G}
redo=${INNODB_LOG_FILE_SIZE:-512M}
flush=${INNODB_FLUSH_LOG_AT_TRX_COMMIT:-1}

log() { echo "seed-benchmark.sh: $*" >&2; }
die() { log "$*"; exit 1; }

"$root/scripts/setup-debian.sh"
if $build && [ -z "${RELAY_BIN:-}" ]; then
    log "building binlog-relay (release, $scratch)"
    (cd "$root" && swift build -c release --product binlog-relay --scratch-path "$scratch" >/dev/null)
fi
relay=${RELAY_BIN:-"$root/$scratch/release/binlog-relay"}
[ -x "$relay" ] || die "$relay not built (run without --no-build)"

work=$(mktemp -d "${TMPDIR:-/tmp}/seed-benchmark.XXXXXX")
src="$work/source"
tgt="$work/target"
cleanup() {
    local rc=$?
    [ ! -d "$tgt" ] || "$sandbox" stop "$tgt" >/dev/null 2>&1 || true
    [ ! -d "$src" ] || "$sandbox" stop "$src" >/dev/null 2>&1 || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

tls="$work/tls"
"$root/scripts/make-tls-certificates.sh" "$tls" seed-benchmark || die "openssl failed"
common_opts=(--innodb-buffer-pool-size="$pool" --innodb-log-file-size="$redo" --innodb-flush-log-at-trx-commit="$flush" --max-connections=200)
log "starting the source (127.0.0.1:$port) and the target (127.0.0.1:$tport, TLS)"
"$sandbox" start "$src" "$port" "${common_opts[@]}" >"$work/sandbox-source.log" 2>&1 ||
    { cat "$work/sandbox-source.log" >&2; die "the source did not start"; }
"$sandbox" start "$tgt" "$tport" "${common_opts[@]}" --server-id=2 \
    --ssl-ca="$tls/ca.pem" --ssl-cert="$tls/server.pem" --ssl-key="$tls/server.key" >"$work/sandbox-target.log" 2>&1 ||
    { cat "$work/sandbox-target.log" >&2; die "the target did not start"; }

sclient() { mariadb --no-defaults --default-character-set=utf8mb4 -h127.0.0.1 -P "$port" -uroot --batch --skip-column-names "$@"; }
tclient() {
    mariadb --no-defaults --default-character-set=utf8mb4 -h127.0.0.1 -P "$tport" -uroot --ssl-ca="$tls/ca.pem" \
        --ssl-verify-server-cert --batch --skip-column-names "$@"
}

log "loading the source: sysbench $sb_tables x $sb_table_size rows, every-type.sql"
sclient -e "CREATE DATABASE sbtest"
sysbench oltp_write_only --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=root \
    --mysql-db=sbtest --tables="$sb_tables" --table-size="$sb_table_size" --threads=2 prepare >"$work/sysbench.log" 2>&1 ||
    { cat "$work/sysbench.log" >&2; die "sysbench prepare failed"; }
# every-type.sql without its XA section (a prepared XA transaction is not a table's data).
sed '/-- XA: prepared then committed/,/-- A second GTID domain/{/-- A second GTID domain/!d}' \
    "$root/Fixtures/mariadb-10.11/every-type.sql" | sclient
sclient -e "ANALYZE TABLE $(seq -f 'sbtest.sbtest%g' -s, 1 "$sb_tables")" >/dev/null
rows=$((sb_tables * sb_table_size))
data_mb=$(sclient -e "SELECT ROUND(SUM(DATA_LENGTH) / 1048576) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest'")
# Checked: the sysbench tables (every_type is copied for the mix of types; the seed's exactness on
# it is the tests' business, and mariadb-dump loses an ENUM member outside the BMP there).
tables=$(sclient -e "SELECT GROUP_CONCAT(CONCAT(TABLE_SCHEMA, '.', TABLE_NAME)) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest'")
checksums() { "$1" -e "CHECKSUM TABLE $tables" | sort; }
expected=$(checksums sclient)

reset_target() {
    tclient -e "DROP DATABASE IF EXISTS sbtest; DROP DATABASE IF EXISTS every_type; DROP DATABASE IF EXISTS binlog_relay; RESET MASTER"
    sync
}

seconds_of() {  # seconds_of COMMAND... : runs it, prints wall seconds
    local start end
    start=$(date +%s.%N)
    "$@" >"$work/last.out" 2>&1 || { cat "$work/last.out" >&2; return 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l | xargs printf '%.2f'
}

dump_pipe() {
    mariadb-dump --no-defaults -h127.0.0.1 -P "$port" -uroot --single-transaction --master-data=2 \
        --databases sbtest every_type | tclient
}
seed_with() {
    BINLOG_RELAY_SOURCE_URL="mysql://root@127.0.0.1:$port?ssl-mode=DISABLED" \
        BINLOG_RELAY_TARGET_URL="mysql://root@127.0.0.1:$tport?ssl-mode=VERIFY_IDENTITY&ssl-ca=$tls/ca.pem" \
        "$relay" seed --connections "$1" --progress none --log-level warning --include sbtest --include every_type \
        ${seed_opts[@]+"${seed_opts[@]}"}
}

declare -A times
failed=0
names=("dump | client")
for n in "${connections[@]}"; do names+=("seed $n"); done
for ((run = 1; run <= runs; run++)); do
    for name in "${names[@]}"; do
        reset_target
        if [ "$name" = "dump | client" ]; then
            t=$(seconds_of dump_pipe) || die "$name failed"
        else
            t=$(seconds_of seed_with "${name#seed }") || die "$name failed"
        fi
        got=$(checksums tclient)
        if [ "$got" != "$expected" ]; then
            log "$name: MISMATCH"
            diff <(echo "$expected") <(echo "$got") >&2 || true
            failed=1
        fi
        log "run $run: $name: ${t}s"
        times[$name]="${times[$name]:-} $t"
    done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
base=$(median "${times["dump | client"]}")
echo
echo "## seed ($sb_tables x $sb_table_size sysbench rows, ${data_mb} MB of table data, + every_type; median of $runs)"
echo
echo "| copy | seconds | rows/s | vs dump \\| client |"
echo "| --- | --- | --- | --- |"
for name in "${names[@]}"; do
    m=$(median "${times[$name]}")
    rate=$(echo "$rows / $m" | bc -l | xargs printf '%.0f')
    ratio=$(echo "$base / $m" | bc -l | xargs printf '%.2f')
    echo "| ${name//|/\\|} | $m | $rate | ${ratio}x |"
done
echo
echo "Command: Benchmarks/scripts/seed-benchmark.sh ${argv[*]:-}"
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$failed"
