#!/usr/bin/env bash
# large-transaction.sh - peak resident memory of `binlog-relay apply` while it applies ONE
# transaction of about 1 GB of binlog, and how long that takes. Fails if the peak is >= 512 MB.
#
# Usage: Benchmarks/scripts/large-transaction.sh [--no-build]
#
# Servers (scripts/mariadb-sandbox.sh): a source (127.0.0.1:PORT, server_id 1) and a TLS target
# (127.0.0.1:PORT+1, server_id 2, log_slave_updates, certificate for IP:127.0.0.1 from a CA made
# with openssl in the temporary directory). Both: ROW format, binlog_row_image=FULL (before and
# after image of every row), max_binlog_cache_size and max_binlog_stmt_cache_size 8 GiB,
# innodb_buffer_pool_size 2G, innodb_log_file_size 1G, the same durability settings
# (innodb_flush_log_at_trx_commit=1, sync_binlog=0: the server defaults).
#
#   1. On both servers, with sql_log_bin=0 (so the source's binlog holds only step 2):
#        CREATE TABLE big.t (id INT UNSIGNED PRIMARY KEY, c BIGINT NOT NULL,
#                            pad CHAR(88) CHARACTER SET latin1 NOT NULL)
#      and ROWS identical rows (102 bytes per row image; ROWS from SIZE_MB: 1 GiB -> ~5.2 million).
#   2. On the source, one statement, one transaction: UPDATE big.t SET c = c + 1
#      (each row logged twice, before and after: ~204 bytes per row, ~1 GiB in all).
#   3. binlog-relay run --source-url 'mysql://root@127.0.0.1:PORT?ssl-mode=DISABLED' --log-dir DIR
#        --server-id 4001 --start earliest --exit-when-caught-up          (peak RSS printed too)
#   4. Measured: /usr/bin/time -v binlog-relay apply --log-dir DIR --until-end
#        --target-url 'mysql://root@127.0.0.1:PORT+1?ssl-mode=VERIFY_IDENTITY&ssl-ca=CA.pem'
#      "Maximum resident set size" is the peak (samples of /proc/PID/status every 0.2 s split it
#      into anonymous and file-backed memory and show when the peak was reached); wall clock is the time. Then CHECKSUM TABLE big.t
#      must be the same on both servers.
#   With NATIVE=1, first the target's own replication applies the same transaction (timed from
#   START SLAVE SQL_THREAD, the binlog already in its relay log), for reference; the target is
#   then put back (the reverse UPDATE with sql_log_bin=0, RESET MASTER, RESET SLAVE ALL).
#
# Disk: about 8x SIZE_MB free in the temporary directory (source binlog and its cache file,
# relay log, target binlog and its cache file, two tables and their undo logs); checked first.
#
# Exit: 0 peak < LIMIT_MB and the target equals the source; 1 otherwise (or on any failure);
# 3 when this binlog-relay has no `apply` subcommand yet (steps 1-3 still run).
#
# Environment: SIZE_MB=1024, LIMIT_MB=512, PORT=33380 (and PORT+1), RELAY_SCRATCH=.build-release,
# RELAY_BIN=PATH (a binlog-relay binary to measure instead of the build's),
# APPLY_OPTS="" (more `binlog-relay apply` options), APPLY_TIMEOUT=3600, NATIVE=0, KEEP_WORK=1,
# SERVER_OPTS="" (more mariadbd options for both servers; max_allowed_packet stays 16M unless set).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/../.." && pwd))
sandbox="$root/scripts/mariadb-sandbox.sh"
argv=("$@")
build=true
while [ $# -gt 0 ]; do
    case $1 in
        --no-build) build=false; shift ;;
        *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
    esac
done
size_mb=${SIZE_MB:-1024}
limit_mb=${LIMIT_MB:-512}
port=${PORT:-33380}
tport=$((port + 1))
scratch=${RELAY_SCRATCH:-.build-release}
read -r -a apply_opts <<<"${APPLY_OPTS:-}"
apply_timeout=${APPLY_TIMEOUT:-3600}
read -r -a server_opts <<<"${SERVER_OPTS:-}"
native=${NATIVE:-0}
case "$size_mb" in '' | *[!0-9]* | 0) echo "SIZE_MB must be a positive number" >&2; exit 2 ;; esac

log() { echo "large-transaction.sh: $*" >&2; }
die() { log "$*"; exit 1; }
now() { date +%s.%N; }
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- tools ----------------------------------------------------------------------------------
# The servers, clients, openssl and sysbench as the tests have them (apt-get, when missing), and
# GNU time for the peak RSS.
"$root/scripts/setup-debian.sh" time

if $build && [ -z "${RELAY_BIN:-}" ]; then
    log "building binlog-relay (release, $scratch)"
    (cd "$root" && swift build -c release --product binlog-relay --scratch-path "$scratch" >/dev/null)
fi
relay=${RELAY_BIN:-"$root/$scratch/release/binlog-relay"}
[ -x "$relay" ] || die "$relay not built (run without --no-build)"
relay_apply=false
# ArgumentParser prints the top-level help (exit 0) for an unknown subcommand's --help.
# (Captured first: `grep -q` stops reading early, and under pipefail the writer's SIGPIPE would
# count as a failure.)
top_help=$("$relay" --help 2>&1 || true)
apply_help=$("$relay" apply --help 2>&1 || true)
if grep -qE '^ +apply( |$)' <<<"$top_help" && grep -q -- --until-end <<<"$apply_help"; then
    relay_apply=true
else
    log "this binlog-relay has no 'apply' subcommand yet: everything up to the relay runs, then exit 3"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/large-transaction.XXXXXX")
src="$work/source"
tgt="$work/target"
cleanup() {
    local rc=$?
    [ ! -d "$tgt" ] || "$sandbox" stop "$tgt" >/dev/null 2>&1 || true
    [ ! -d "$src" ] || "$sandbox" stop "$src" >/dev/null 2>&1 || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        log "work directory kept: $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- disk space ------------------------------------------------------------------------------
avail_mb=$(df -Pm "$work" | awk 'NR == 2 { print $4 }')
need_mb=$((size_mb * 8))
if [ "$avail_mb" -lt "$need_mb" ]; then
    die "not enough disk: $work has $avail_mb MB free, a ${size_mb} MB transaction needs about $need_mb MB (8x: source binlog and binlog cache file, relay log, target binlog and cache file, two tables with undo logs). Set TMPDIR to a larger disk or lower SIZE_MB."
fi
log "disk: $avail_mb MB free in $(df -P "$work" | awk 'NR == 2 { print $6 }'), about $need_mb MB needed"

# --- certificates and servers ----------------------------------------------------------------
tls="$work/tls"
"$root/scripts/make-tls-certificates.sh" "$tls" large-transaction || die "openssl failed"

common_opts=(
    --binlog-row-image=FULL
    --max-binlog-cache-size=8G
    --max-binlog-stmt-cache-size=8G
    --binlog-cache-size=1M
    --max-binlog-size=1G
    --innodb-buffer-pool-size=2G
    --innodb-log-file-size=1G
    --innodb-flush-log-at-trx-commit=1
    --sync-binlog=0
    ${server_opts[@]+"${server_opts[@]}"}
)
target_opts=(
    --server-id=2 --log-slave-updates=ON --skip-slave-start
    --ssl-ca="$tls/ca.pem" --ssl-cert="$tls/server.pem" --ssl-key="$tls/server.key"
)
log "starting the source (127.0.0.1:$port) and the target (127.0.0.1:$tport, TLS)"
"$sandbox" start "$src" "$port" "${common_opts[@]}" >"$work/sandbox-source.log" 2>&1 ||
    { cat "$work/sandbox-source.log" >&2; die "the source did not start"; }
"$sandbox" start "$tgt" "$tport" "${common_opts[@]}" "${target_opts[@]}" >"$work/sandbox-target.log" 2>&1 ||
    { cat "$work/sandbox-target.log" >&2; die "the target did not start"; }
client_at() {
    local p=$1
    shift
    mariadb --no-defaults -h127.0.0.1 -P "$p" -uroot --batch --skip-column-names "$@"
}
sclient() { client_at "$port" "$@"; }
tclient() { client_at "$tport" "$@"; }
settings_query="SELECT CONCAT('innodb_flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit, ' sync_binlog=', @@sync_binlog,
    ' binlog_row_image=', @@binlog_row_image, ' max_binlog_cache_size=', @@max_binlog_cache_size DIV 1048576, 'M',
    ' max_binlog_stmt_cache_size=', @@max_binlog_stmt_cache_size DIV 1048576, 'M',
    ' innodb_buffer_pool_size=', @@innodb_buffer_pool_size DIV 1048576, 'M', ' innodb_log_file_size=', @@innodb_log_file_size DIV 1048576, 'M',
    ' max_allowed_packet=', @@max_allowed_packet DIV 1048576, 'M', ' log_slave_updates=', @@log_slave_updates)"
source_settings=$(sclient -e "$settings_query")
target_settings=$(tclient -e "$settings_query")
log "source: $source_settings"
log "target: $target_settings"

# --- 1. the table, the same on both, not logged ----------------------------------------------
row_bytes=204  # one row in an UPDATE_ROWS event: two images of 1 + 4 + 8 + 1 + 88 bytes
rows=$((size_mb * 1048576 / (row_bytes + 2)))  # + ~1% for the events' headers and checksums
populate() {  # populate PORT
    local p=$1 from=1 to
    client_at "$p" -e "SET sql_log_bin = 0; CREATE DATABASE big; CREATE TABLE big.t (
        id INT UNSIGNED NOT NULL PRIMARY KEY, c BIGINT NOT NULL, pad CHAR(88) CHARACTER SET latin1 NOT NULL) ENGINE=InnoDB"
    while [ "$from" -le "$rows" ]; do
        to=$((from + 499999))
        [ "$to" -le "$rows" ] || to=$rows
        client_at "$p" big -e "SET sql_log_bin = 0; INSERT INTO big.t SELECT seq, seq * 7, RPAD(CONCAT('row ', seq, ' '), 88, 'abcdefgh') FROM seq_${from}_to_${to}"
        from=$((to + 1))
    done
}
log "1. $rows rows of 102 bytes on both servers (sql_log_bin=0)"
t0=$(now)
populate "$port" &
populate_source=$!
populate "$tport"
wait "$populate_source" || die "populating the source failed"
log "   in $(seconds_between "$t0" "$(now)") s"

# --- 2. one transaction ----------------------------------------------------------------------
log "2. UPDATE big.t SET c = c + 1 on the source (one statement, one transaction)"
t0=$(now)
sclient -e 'UPDATE big.t SET c = c + 1'
update_s=$(seconds_between "$t0" "$(now)")
read -r end_file end_pos _ < <(sclient -e 'SHOW MASTER STATUS')
first_file=$(sclient -e 'SHOW BINARY LOGS' | awk 'NR == 1 { print $1 }')
binlog_bytes=$(sclient -e 'SHOW BINARY LOGS' | awk '{ s += $2 } END { print s }')
gtids=$(sclient -e 'SELECT @@gtid_binlog_pos')
log "   in $update_s s; source binlog: $binlog_bytes bytes ($first_file .. $end_file:$end_pos), GTID $gtids"
[ "$gtids" = 0-1-1 ] || die "expected one transaction (GTID 0-1-1) in the source's binlog, got '$gtids'"

# --- 3. relay --------------------------------------------------------------------------------
relaylog="$work/relaylog"
run_cmd=("$relay" run --source-url "mysql://root@127.0.0.1:$port?ssl-mode=DISABLED" --log-dir "$relaylog"
    --server-id 4001 --start earliest --exit-when-caught-up)
log "3. ${run_cmd[*]}"
t0=$(now)
/usr/bin/time -v -o "$work/run-time.out" "${run_cmd[@]}" 2>"$work/run.err" ||
    { tail -n 5 "$work/run.err" >&2; die "binlog-relay run failed"; }
run_s=$(seconds_between "$t0" "$(now)")
run_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/run-time.out")
relay_bytes=$(du -sb "$relaylog" | cut -f1)
log "   in $run_s s, peak RSS $((run_kb / 1024)) MB; local log $relay_bytes bytes"

checksum() { client_at "$1" -e 'CHECKSUM TABLE big.t' | awk '{ print $2 }'; }

# --- native replication, for reference -------------------------------------------------------
native_s=""
if [ "$native" = 1 ]; then
    log "native replication of the same transaction (slave_parallel_threads=0)"
    tclient -e "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$port, MASTER_USER='root',
        MASTER_LOG_FILE='$first_file', MASTER_LOG_POS=4, MASTER_USE_GTID=no, MASTER_SSL=0; START SLAVE IO_THREAD"
    slave_field() {
        mariadb --no-defaults -h127.0.0.1 -P "$tport" -uroot --vertical -e 'SHOW SLAVE STATUS' |
            awk -v f="$1" '$1 == f ":" { sub(/^[^:]*: ?/, ""); print; exit }'
    }
    until [ "$(slave_field Master_Log_File)" = "$end_file" ] && [ "$(slave_field Read_Master_Log_Pos)" = "$end_pos" ]; do
        [ "$(slave_field Slave_IO_Running)" != No ] || die "the IO thread stopped: $(slave_field Last_IO_Error)"
        sleep 0.2
    done
    tclient -e 'STOP SLAVE IO_THREAD'
    sync
    t0=$(now)
    result=$(tclient -e "START SLAVE SQL_THREAD; SELECT MASTER_POS_WAIT('$end_file', $end_pos, $apply_timeout)")
    native_s=$(seconds_between "$t0" "$(now)")
    [[ "$result" =~ ^[0-9]+$ ]] || die "native replication failed: $(slave_field Last_SQL_Error)"
    [ "$(checksum "$port")" = "$(checksum "$tport")" ] || die "native replication left big.t different from the source"
    log "   in $native_s s; putting the target back"
    tclient -e "STOP SLAVE; RESET SLAVE ALL; SET sql_log_bin = 0; UPDATE big.t SET c = c - 1; SET sql_log_bin = 1; RESET MASTER; SET GLOBAL gtid_slave_pos = ''"
fi

if ! $relay_apply; then
    echo
    echo "Large transaction: $rows rows, one UPDATE, $binlog_bytes bytes of source binlog; relay run $run_s s (peak RSS $((run_kb / 1024)) MB)${native_s:+; native replication applied it in $native_s s}"
    echo "binlog-relay apply: NOT MEASURED (binlog-relay $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') has no apply subcommand)"
    exit 3
fi

# --- 4. apply --------------------------------------------------------------------------------
sync
url="mysql://root@127.0.0.1:$tport?ssl-mode=VERIFY_IDENTITY&ssl-ca=$tls/ca.pem"
apply_cmd=("$relay" apply --log-dir "$relaylog" --target-url "$url" --until-end ${apply_opts[@]+"${apply_opts[@]}"})
log "4. /usr/bin/time -v ${apply_cmd[*]}"
# /proc/PID/status every 0.2 s, to show when and how memory grows (the peak is /usr/bin/time's):
# VmRSS split into anonymous memory (heap, buffers) and file-backed pages (e.g. a mapped log
# segment, which the kernel can drop), and VmHWM (the peak so far: when it jumps is when the peak was).
t0=$(now)
rc=0
/usr/bin/time -v -o "$work/apply-time.out" timeout "$apply_timeout" "${apply_cmd[@]}" >"$work/apply.out" 2>"$work/apply.err" &
timer=$!
(
    pid=""
    while kill -0 "$timer" 2>/dev/null; do
        [ -n "$pid" ] || pid=$(pgrep -P "$(pgrep -P "$timer" | head -n 1)" 2>/dev/null | head -n 1 || true)
        [ -z "$pid" ] || awk -v t="$(seconds_between "$t0" "$(now)")" '/^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 } /^RssFile/ { f = $2 } /^VmHWM/ { h = $2 }
            END { if (r != "") printf "%s %d %d %d %d\n", t, r / 1024, a / 1024, f / 1024, h / 1024 }' "/proc/$pid/status" 2>/dev/null || true
        sleep 0.2
    done
) >"$work/rss.log" &
sampler=$!
wait "$timer" || rc=$?
apply_s=$(seconds_between "$t0" "$(now)")
wait "$sampler" 2>/dev/null || true
peak_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/apply-time.out")
summary=$(grep -v '^\s*$' "$work/apply.err" | tail -n 1 || true)
if [ "$rc" -ne 0 ]; then
    tail -n 10 "$work/apply.err" >&2 || true
    die "binlog-relay apply failed (exit $rc) after $apply_s s, peak RSS $((peak_kb / 1024)) MB"
fi
log "   $summary"
same=no
[ "$(checksum "$port")" = "$(checksum "$tport")" ] && same=yes

peak_mb=$((peak_kb / 1024))
verdict=PASS
[ "$peak_mb" -lt "$limit_mb" ] && [ "$same" = yes ] || verdict=FAIL
echo
echo "Large transaction apply, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m)"
echo "binlog-relay $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'); $(mariadbd --version 2>/dev/null || /usr/sbin/mariadbd --version)"
echo "source: $source_settings"
echo "target: $target_settings"
echo
echo "| transaction | binlog | relay run | binlog-relay apply | peak RSS of apply | limit | target = source |"
echo "|---|---|---|---|---|---|---|"
echo "| one UPDATE of $rows rows (FULL image) | $(awk -v b="$binlog_bytes" 'BEGIN { printf "%.0f", b / 1048576 }') MB | $run_s s, $((run_kb / 1024)) MB | $apply_s s ($(awk -v r="$rows" -v s="$apply_s" 'BEGIN { printf "%.0f", r / s }') rows/s) | **$peak_mb MB** | < $limit_mb MB | $same |"
[ -z "$native_s" ] || echo "native replication (SQL thread, slave_parallel_threads=0) applied the same transaction in $native_s s"
echo
echo "apply's summary: $summary"
if [ -s "$work/rss.log" ]; then
    awk -v peak="$peak_mb" '
        { n++; t[n] = $1; r[n] = $2; a[n] = $3; f[n] = $4; h[n] = $5
          if ($3 > amax) amax = $3; if ($4 > fmax) fmax = $4; if ($2 > rmax) rmax = $2 }
        END {
            for (i = 1; i <= n; i++) if (h[i] >= peak - 1) {
                if (i == 1) printf "peak RSS (VmHWM) already reached at the first sample, %s s after the start\n", t[i]
                else printf "peak RSS (VmHWM) reached between %s s (peak so far %d MB) and %s s\n", t[i - 1], h[i - 1], t[i]
                break
            }
            printf "sampled every 0.2 s: at most %d MB resident at a sample, %d MB anonymous, %d MB file-backed\n", rmax, amax, fmax
            printf "profile (s: resident = anonymous + file-backed, peak so far; MB):"
            step = int(n / 40) + 1
            for (i = 1; i <= n; i += step) printf "%s %s: %d = %d + %d, %d", (i == 1 ? "" : ";"), t[i], r[i], a[i], f[i], h[i]
            print ""
        }' "$work/rss.log" | fold -s -w 120 | sed '1,2! s/^/  /'
fi
echo
echo "Command: SIZE_MB=$size_mb LIMIT_MB=$limit_mb${APPLY_OPTS:+ APPLY_OPTS=\"$APPLY_OPTS\"}${SERVER_OPTS:+ SERVER_OPTS=\"$SERVER_OPTS\"} NATIVE=$native Benchmarks/scripts/large-transaction.sh${argv[*]:+ ${argv[*]}}"
echo "  /usr/bin/time -v binlog-relay apply --log-dir DIR --target-url 'mysql://root@127.0.0.1:$tport?ssl-mode=VERIFY_IDENTITY&ssl-ca=CA.pem' --until-end${apply_opts[*]:+ ${apply_opts[*]}}"
echo "$verdict: peak RSS $peak_mb MB (limit $limit_mb MB), target $([ "$same" = yes ] && echo equals || echo DIFFERS FROM) the source"
[ "$verdict" = PASS ]
