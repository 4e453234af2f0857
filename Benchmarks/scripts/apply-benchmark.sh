#!/usr/bin/env bash
# apply-benchmark.sh - apply throughput of binlog-relay against the target's own native replication,
# on the same recorded workloads in the same run, without and with ~30 ms of added round-trip time.
#
# Usage: Benchmarks/scripts/apply-benchmark.sh [--runs N] [--no-build] [--workload sysbench|every-type]...
#                                              [--no-delay] [--native-only]
#
# Servers (scripts/mariadb-sandbox.sh, MariaDB from the distribution, no option files):
#   source  127.0.0.1:PORT,   server_id 1, ROW, CRC32, gtid_strict_mode (the sandbox's settings)
#   target  127.0.0.1:PORT+1, server_id 2, the same settings plus log_slave_updates=ON (its binlog
#           stays on, so both appliers pay for the target's binlog), TLS with a certificate for
#           IP:127.0.0.1 signed by a CA made with openssl in the temporary directory,
#           slave_parallel_mode=optimistic (set explicitly; it is the default since MariaDB 10.5.1,
#           conservative before, and the source, started without it, reports optimistic too).
#   Both get the same durability and sizes: innodb_flush_log_at_trx_commit, sync_binlog (the
#   server defaults, 1 and 0, unless set below), buffer pool, redo log; the output prints them.
#
# Workloads, each recorded once on a reset source (RESET MASTER), so its binlog starts with the
# CREATE DATABASE / CREATE TABLE statements and the target starts EMPTY:
#   sysbench    sysbench oltp_write_only prepare + run (--events SYSBENCH_EVENTS, every event one
#               transaction of 2 UPDATEs, a DELETE and an INSERT)
#   every-type  Fixtures/mariadb-10.11/every-type.sql, then every-type-workload.py: its rows of
#               every column type copied, moved (primary-key UPDATE, both images) and deleted,
#               three transactions per table per round. The fixture's XA section and its INSERT
#               of invalid ENUM values (index 0) are replaced: binlog-relay's applier stops on
#               both by design (docs/applier.md); EVERY_TYPE_AS_IS=1 keeps them.
# Transactions (GTID groups) and rows are counted once from the source's binlog with
# `binlog-relay inspect --format jsonl`.
#
# Measured for each workload (the target reset before every run: every non-system schema dropped,
# binlog_relay included, RESET SLAVE ALL, RESET MASTER, gtid_slave_pos=''; then `sync`):
#   native, apply only   CHANGE MASTER TO ... MASTER_LOG_FILE='<first file>', MASTER_LOG_POS=4,
#                        MASTER_USE_GTID=no, MASTER_SSL=0; START SLAVE IO_THREAD; wait until
#                        the whole binlog is in the target's relay log; STOP SLAVE IO_THREAD;
#                        timed: START SLAVE SQL_THREAD; SELECT MASTER_POS_WAIT(<end of the
#                        source's binlog>)   -- with slave_parallel_threads 0 and 4 (NATIVE_THREADS)
#   relay, apply only    the source relayed once into a local log (`binlog-relay run ...
#                        --exit-when-caught-up`, timed separately, not part of apply); timed:
#                        binlog-relay apply --log-dir DIR --target-url 'mysql://root@127.0.0.1:
#                          PORT+1?ssl-mode=VERIFY_IDENTITY&ssl-ca=CA' --until-end --workers N
#                        with N = 1 and 4 (WORKERS); runs only when the binary has `apply`.
#   with delay           delay-proxy adds DELAY_RTT_MS (30 ms: 15 ms each way) of round trip (built
#                        from delay-proxy.c with cc when there is one, else delay-proxy.py: it
#                        runs on the same 2 cores as the relay and the target, and the C one takes
#                        about half the CPU the Python one does; DELAY_PROXY=py picks the Python one):
#     relay              the same apply through a proxy in front of the target (relay -> target
#                        crosses the "WAN"). The goal: at least half the no-delay throughput.
#     native             a replica's SQL thread applies locally; its only WAN link is source ->
#                        replica (the IO thread), which "apply only" does not time. The fair
#                        counterpart of the relay's apply is therefore the whole path from a
#                        backlog on the source side to the rows committed on the target:
#                        START SLAVE (IO + SQL together) until MASTER_POS_WAIT returns, with the
#                        replica's MASTER_PORT pointing at a proxy in front of the source, and the
#                        same without the proxy. (The relay's backlog is already in its local log
#                        beside the source, so its apply is that same path.)
# After every run the target must hold exactly the source's data: CHECKSUM TABLE of every table
# of the workload on both (a mismatch marks the run MISMATCH and the script exits 1 at the end).
# Peak RSS of binlog-relay apply: /usr/bin/time -v. Seconds are wall clock, median of --runs.
#
# The end: a markdown table per workload and the exact commands, for Benchmarks/RESULTS.md.
# `tc qdisc ... netem` inside a network namespace would be an alternative to the proxy, but needs
# the sch_netem kernel module ("Specified qdisc kind is unknown" on the project's VM).
#
# Environment (defaults):
#   PORT=33370                 source; PORT+1 target; PORT+2 proxy to the source; PORT+3 proxy to the target
#   RELAY_SCRATCH=.build-release  build folder
#   RELAY_BIN=PATH             measure this binlog-relay binary instead of the build's
#   SYSBENCH_TABLES=4 SYSBENCH_TABLE_SIZE=10000 SYSBENCH_EVENTS=50000 SYSBENCH_THREADS=4
#                              (50,025 transactions, 240,000 rows, 117 MB of binlog; native
#                              replication applies it in 7-10 s here)
#   EVERY_TYPE_ROUNDS=40 EVERY_TYPE_COPIES=4   (about 2,700 transactions, 58,000 rows, 92 MB of binlog)
#   EVERY_TYPE_AS_IS=0         1: every-type.sql unchanged (XA, invalid ENUM values)
#   NATIVE_THREADS="0 4"       slave_parallel_threads values
#   WORKERS="1 4"              binlog-relay apply --workers values
#   APPLY_OPTS=""              more `binlog-relay apply` options (e.g. "--batch-bytes 1048576")
#   DELAY_RTT_MS=30            round trip added by the delay proxy
#   DELAY_PROXY=c              c (delay-proxy.c, built with cc; delay-proxy.py when cc is missing) or py
#   INNODB_FLUSH_LOG_AT_TRX_COMMIT=1 SYNC_BINLOG=0   on both servers
#   INNODB_BUFFER_POOL_SIZE=1G INNODB_LOG_FILE_SIZE=512M   on both servers
#   SERVER_OPTS=""             more mariadbd options for both servers
#   APPLY_TIMEOUT=300          seconds before a run counts as failed
#   KEEP_WORK=1                keep the temporary directory
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/../.." && pwd))
sandbox="$root/scripts/mariadb-sandbox.sh"
argv=("$@")
runs=1
build=true
workloads=()
delay=true
relay_wanted=true
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --no-build) build=false; shift ;;
        --workload) workloads+=("$2"); shift 2 ;;
        --no-delay) delay=false; shift ;;
        --native-only) relay_wanted=false; shift ;;
        *) echo "usage: $0 [--runs N] [--no-build] [--workload sysbench|every-type]... [--no-delay] [--native-only]" >&2; exit 2 ;;
    esac
done
[ ${#workloads[@]} -gt 0 ] || workloads=(sysbench every-type)
for w in "${workloads[@]}"; do
    case $w in sysbench | every-type) ;; *) echo "unknown workload '$w'" >&2; exit 2 ;; esac
done
case "$runs" in '' | *[!0-9]* | 0) echo "--runs needs a positive number" >&2; exit 2 ;; esac

port=${PORT:-33370}
tport=$((port + 1))
source_proxy_port=$((port + 2))
target_proxy_port=$((port + 3))
scratch=${RELAY_SCRATCH:-.build-release}
sb_tables=${SYSBENCH_TABLES:-4}
sb_table_size=${SYSBENCH_TABLE_SIZE:-10000}
sb_events=${SYSBENCH_EVENTS:-50000}
sb_threads=${SYSBENCH_THREADS:-4}
et_rounds=${EVERY_TYPE_ROUNDS:-40}
et_copies=${EVERY_TYPE_COPIES:-4}
et_as_is=""
[ "${EVERY_TYPE_AS_IS:-0}" != 1 ] || et_as_is=1
read -r -a native_threads <<<"${NATIVE_THREADS:-0 4}"
read -r -a workers <<<"${WORKERS:-1 4}"
read -r -a apply_opts <<<"${APPLY_OPTS:-}"
rtt=${DELAY_RTT_MS:-30}
flush=${INNODB_FLUSH_LOG_AT_TRX_COMMIT:-1}
sync_binlog=${SYNC_BINLOG:-0}
pool=${INNODB_BUFFER_POOL_SIZE:-1G}
redo=${INNODB_LOG_FILE_SIZE:-512M}
read -r -a server_opts <<<"${SERVER_OPTS:-}"
apply_timeout=${APPLY_TIMEOUT:-300}

log() { echo "apply-benchmark.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# --- tools ----------------------------------------------------------------------------------
# The servers, clients, openssl and sysbench as the tests have them (apt-get, when missing), and
# GNU time for the peak RSS.
"$root/scripts/setup-debian.sh" time
command -v python3 >/dev/null 2>&1 || die "python3 not found"

if $build && [ -z "${RELAY_BIN:-}" ]; then
    log "building binlog-relay (release, $scratch)"
    (cd "$root" && swift build -c release --product binlog-relay --scratch-path "$scratch" >/dev/null)
fi
relay=${RELAY_BIN:-"$root/$scratch/release/binlog-relay"}
[ -x "$relay" ] || die "$relay not built (run without --no-build)"
relay_apply=false
if $relay_wanted; then
    # ArgumentParser prints the top-level help (exit 0) for an unknown subcommand's --help, so
    # look for `apply` in the list of subcommands and check that it takes --until-end.
    # (Captured first: `grep -q` stops reading early, and under pipefail the writer's SIGPIPE
    # would count as a failure.)
    top_help=$("$relay" --help 2>&1 || true)
    apply_help=$("$relay" apply --help 2>&1 || true)
    if grep -qE '^ +apply( |$)' <<<"$top_help" && grep -q -- --until-end <<<"$apply_help"; then
        relay_apply=true
    else
        log "this binlog-relay has no 'apply' subcommand yet: the relay's apply runs are skipped"
    fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/apply-benchmark.XXXXXX")
src="$work/source"
tgt="$work/target"
proxy_pids=()
cleanup() {
    local rc=$? pid
    for pid in ${proxy_pids[@]+"${proxy_pids[@]}"}; do
        kill "$pid" 2>/dev/null || true
    done
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

# --- certificates (as Tests/TestSupport/TestCertificates.swift makes them) --------------------
tls="$work/tls"
"$root/scripts/make-tls-certificates.sh" "$tls" apply-benchmark || die "openssl failed"

# --- servers ---------------------------------------------------------------------------------
common_opts=(
    --innodb-flush-log-at-trx-commit="$flush"
    --sync-binlog="$sync_binlog"
    --innodb-buffer-pool-size="$pool"
    --innodb-log-file-size="$redo"
    --max-binlog-size=1073741824
    --max-connections=200
    ${server_opts[@]+"${server_opts[@]}"}
)
target_opts=(
    --server-id=2
    --log-slave-updates=ON
    --skip-slave-start
    --slave-parallel-mode=optimistic
    --ssl-ca="$tls/ca.pem" --ssl-cert="$tls/server.pem" --ssl-key="$tls/server.key"
)
# For apply-harness.sh, which restarts these servers as they were.
declare -p common_opts target_opts >"$work/server-options.sh"
log "starting the source (127.0.0.1:$port) and the target (127.0.0.1:$tport, TLS)"
"$sandbox" start "$src" "$port" "${common_opts[@]}" >"$work/sandbox-source.log" 2>&1 ||
    { cat "$work/sandbox-source.log" >&2; die "the source did not start"; }
"$sandbox" start "$tgt" "$tport" "${common_opts[@]}" "${target_opts[@]}" >"$work/sandbox-target.log" 2>&1 ||
    { cat "$work/sandbox-target.log" >&2; die "the target did not start"; }

client_at() {
    local p=$1
    shift
    mariadb --no-defaults --default-character-set=utf8mb4 -h127.0.0.1 -P "$p" -uroot --batch --skip-column-names "$@"
}
sclient() { client_at "$port" "$@"; }
tclient() { client_at "$tport" "$@"; }

settings_query="SELECT CONCAT('innodb_flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit,
    ' sync_binlog=', @@sync_binlog, ' log_bin=', @@log_bin, ' log_slave_updates=', @@log_slave_updates,
    ' binlog_format=', @@binlog_format, ' innodb_buffer_pool_size=', @@innodb_buffer_pool_size DIV 1048576, 'M',
    ' innodb_log_file_size=', @@innodb_log_file_size DIV 1048576, 'M', ' server_id=', @@server_id,
    ' gtid_strict_mode=', @@gtid_strict_mode, ' slave_parallel_mode=', @@slave_parallel_mode,
    ' have_ssl=', @@have_ssl)"
source_settings=$(sclient -e "$settings_query")
target_settings=$(tclient -e "$settings_query")
log "source: $source_settings"
log "target: $target_settings"
# Durability must be the same on both: compare the first two settings.
[ "$(echo "$source_settings" | cut -d' ' -f1-2)" = "$(echo "$target_settings" | cut -d' ' -f1-2)" ] ||
    die "the servers' durability settings differ"

# --- delay proxies ---------------------------------------------------------------------------
proxy_command=(python3 "$here/delay-proxy.py")
proxy_name="delay-proxy.py"
if [ "${DELAY_PROXY:-c}" = c ] && command -v cc >/dev/null 2>&1; then
    cc -O2 -pthread -o "$work/delay-proxy" "$here/delay-proxy.c" || die "cc could not build delay-proxy.c"
    proxy_command=("$work/delay-proxy")
    proxy_name="delay-proxy.c"
fi
start_proxy() {  # start_proxy LISTEN_PORT CONNECT_PORT NAME
    "${proxy_command[@]}" --listen "$1" --connect "127.0.0.1:$2" --rtt-ms "$rtt" 2>"$work/proxy-$3.log" &
    proxy_pids+=($!)
    local i
    for ((i = 0; i < 100; i++)); do
        grep -q listening "$work/proxy-$3.log" 2>/dev/null && return 0
        sleep 0.1
    done
    cat "$work/proxy-$3.log" >&2
    die "$proxy_name did not start"
}
# rtt_ms PORT: the round trip of one query through PORT, in ms (40 queries in one session, less one).
rtt_ms() {
    local t0 t1 t2 many
    many=$(printf 'SELECT 1;%.0s' $(seq 40))
    t0=$(date +%s.%N)
    client_at "$1" --skip-ssl -e 'SELECT 1' >/dev/null
    t1=$(date +%s.%N)
    client_at "$1" --skip-ssl -e "$many" >/dev/null
    t2=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { r = ((c - b) - (b - a)) * 1000 / 39; printf "%.1f", r < 0 ? 0 : r }'
}
rtt_note=""
if $delay; then
    start_proxy "$source_proxy_port" "$port" source
    start_proxy "$target_proxy_port" "$tport" target
    rtt_note="query round trip to the target: $(rtt_ms "$tport") ms direct, $(rtt_ms "$target_proxy_port") ms through the proxy"
    log "$proxy_name --rtt-ms $rtt: $rtt_note"
fi

# --- helpers ---------------------------------------------------------------------------------
now() { date +%s.%N; }
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# system_schemas, reset_target
source "$here/apply-common.sh"

reset_source() {
    local db
    for db in $(sclient -e "SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN ($system_schemas)"); do
        sclient -e "DROP DATABASE \`$db\`"
    done
    sclient -e 'RESET MASTER'
}

# checksums PORT TABLES: "schema.table checksum" per table.
checksums() { client_at "$1" -e "CHECKSUM TABLE $2"; }

# verify: the target holds the source's data (the workload's tables). Prints ok or MISMATCH.
verify() {
    if [ "$(checksums "$port" "$tables")" = "$(checksums "$tport" "$tables")" ]; then
        echo ok
    else
        diff <(checksums "$port" "$tables") <(checksums "$tport" "$tables") | sed 's/^/  /' >&2 || true
        echo MISMATCH
    fi
}

slave_field() {  # slave_field NAME: a field of SHOW SLAVE STATUS on the target
    mariadb --no-defaults -h127.0.0.1 -P "$tport" -uroot --vertical -e 'SHOW SLAVE STATUS' | awk -v f="$1" '$1 == f ":" { sub(/^[^:]*: ?/, ""); print; exit }'
}

# Results: for each case key "workload|case", the seconds of each run, the check and notes.
declare -A secs=() checks=() notes=() rss=()
case_order=()
record() {  # record WORKLOAD CASE SECONDS CHECK [NOTE] [RSS_KB]
    local key="$1|$2"
    [ -n "${secs[$key]+x}" ] || case_order+=("$key")
    secs[$key]="${secs[$key]:-} $3"
    if [ "$4" != ok ] || [ -z "${checks[$key]:-}" ]; then checks[$key]=$4; fi
    [ -z "${5:-}" ] || notes[$key]=$5
    [ -z "${6:-}" ] || rss[$key]="${rss[$key]:-} $6"
}
failures=0

# native WORKLOAD THREADS MODE: MODE = sql (relay log fetched first, SQL thread timed) or
# e2e-direct / e2e-delay (START SLAVE of both threads timed, straight or through the proxy).
native() {
    local workload=$1 threads=$2 mode=$3 master_port=$port label t0 t1 result check
    case $mode in
        sql) label="native, apply only, slave_parallel_threads=$threads" ;;
        e2e-direct) label="native, IO+SQL, slave_parallel_threads=$threads, no delay" ;;
        e2e-delay) label="native, IO+SQL, slave_parallel_threads=$threads, ${rtt} ms RTT source→replica"; master_port=$source_proxy_port ;;
    esac
    log "$workload: $label"
    reset_target
    tclient -e "SET GLOBAL slave_parallel_threads = $threads; SET GLOBAL slave_parallel_mode = 'optimistic';
        CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$master_port, MASTER_USER='root', MASTER_PASSWORD='',
        MASTER_LOG_FILE='$first_file', MASTER_LOG_POS=4, MASTER_USE_GTID=no, MASTER_SSL=0"
    if [ "$mode" = sql ]; then
        tclient -e 'START SLAVE IO_THREAD'
        local waited=0
        until [ "$(slave_field Master_Log_File)" = "$end_file" ] && [ "$(slave_field Read_Master_Log_Pos)" = "$end_pos" ]; do
            [ "$(slave_field Slave_IO_Running)" != No ] || die "the IO thread stopped: $(slave_field Last_IO_Error)"
            waited=$((waited + 1))
            [ "$waited" -lt $((apply_timeout * 10)) ] || die "the IO thread did not fetch the binlog in ${apply_timeout}s"
            sleep 0.1
        done
        tclient -e 'STOP SLAVE IO_THREAD'
        sync
        t0=$(now)
        result=$(tclient -e "START SLAVE SQL_THREAD; SELECT MASTER_POS_WAIT('$end_file', $end_pos, $apply_timeout)")
        t1=$(now)
    else
        sync
        t0=$(now)
        result=$(tclient -e "START SLAVE; SELECT MASTER_POS_WAIT('$end_file', $end_pos, $apply_timeout)")
        t1=$(now)
    fi
    if ! [[ "$result" =~ ^[0-9]+$ ]]; then  # MASTER_POS_WAIT: events waited for; -1 timeout, NULL error
        log "native replication did not reach $end_file:$end_pos (MASTER_POS_WAIT: $result): $(slave_field Last_SQL_Error) $(slave_field Last_IO_Error)"
        record "$workload" "$label" "$(seconds_between "$t0" "$t1")" failed
        failures=$((failures + 1))
    else
        check=$(verify)
        [ "$check" = ok ] || failures=$((failures + 1))
        record "$workload" "$label" "$(seconds_between "$t0" "$t1")" "$check"
    fi
    tclient -e 'STOP SLAVE' >/dev/null 2>&1 || true
}

# relay_apply WORKLOAD WORKERS TARGET_PORT DELAYED
relay_apply() {
    local workload=$1 n=$2 p=$3 delayed=$4 label t0 t1 rc=0 check summary kb
    label="relay, apply only, --workers $n"
    $delayed && label="$label, ${rtt} ms RTT relay→target"
    log "$workload: $label"
    reset_target
    local url="mysql://root@127.0.0.1:$p?ssl-mode=VERIFY_IDENTITY&ssl-ca=$tls/ca.pem"
    t0=$(now)
    /usr/bin/time -v -o "$work/apply-time.out" timeout "$apply_timeout" \
        "$relay" apply --log-dir "$relaylog" --target-url "$url" --until-end --workers "$n" \
        ${apply_opts[@]+"${apply_opts[@]}"} >"$work/apply.out" 2>"$work/apply.err" || rc=$?
    t1=$(now)
    summary=$(grep -v '^\s*$' "$work/apply.err" | tail -n 1 || true)
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/apply-time.out")
    if [ "$rc" -ne 0 ]; then
        log "binlog-relay apply failed (exit $rc); its last lines:"
        tail -n 5 "$work/apply.err" >&2 || true
        record "$workload" "$label" "$(seconds_between "$t0" "$t1")" "failed (exit $rc)" "$summary" "$kb"
        failures=$((failures + 1))
    else
        check=$(verify)
        [ "$check" = ok ] || failures=$((failures + 1))
        record "$workload" "$label" "$(seconds_between "$t0" "$t1")" "$check" "$summary" "$kb"
        log "  $summary"
    fi
}

# --- workloads -------------------------------------------------------------------------------
sb() {
    sysbench oltp_write_only --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" \
        --mysql-user=root --mysql-password= --mysql-db=sbtest --tables="$sb_tables" \
        --table-size="$sb_table_size" --threads="$sb_threads" --rand-seed=1 "$@"
}
record_workload() {
    case $1 in
        sysbench)
            sclient -e 'CREATE DATABASE sbtest'
            sb prepare >"$work/sysbench-prepare.log"
            sb --events="$sb_events" --time=0 --report-interval=0 run >"$work/sysbench-run.log"
            workload_note="sysbench oltp_write_only prepare + run: $sb_tables tables × $sb_table_size rows, --events=$sb_events, --threads=$sb_threads"
            ;;
        every-type)
            python3 "$here/every-type-workload.py" --base "$root/Fixtures/mariadb-10.11/every-type.sql" \
                ${et_as_is:+--as-is} --rounds "$et_rounds" --copies "$et_copies" | client_at "$port" >/dev/null
            workload_note="every-type-workload.py --base Fixtures/mariadb-10.11/every-type.sql${et_as_is:+ --as-is} --rounds $et_rounds --copies $et_copies"
            ;;
    esac
}

declare -A census=() workload_notes=() pulls=()
cases_run=()
start_time=$(now)
for workload in "${workloads[@]}"; do
    log "== $workload: recording on the source"
    reset_target
    reset_source
    t0=$(now)
    record_workload "$workload"
    log "recorded in $(seconds_between "$t0" "$(now)") s"
    workload_notes[$workload]=$workload_note
    first_file=$(sclient -e 'SHOW BINARY LOGS' | awk 'NR == 1 { print $1 }')
    read -r end_file end_pos _ < <(sclient -e 'SHOW MASTER STATUS')
    binlog_bytes=$(sclient -e 'SHOW BINARY LOGS' | awk '{ s += $2 } END { print s }')
    binlog_count=$(sclient -e 'SHOW BINARY LOGS' | wc -l)
    tables=$(sclient -e "SELECT GROUP_CONCAT(CONCAT('\`', table_schema, '\`.\`', table_name, '\`') ORDER BY table_schema, table_name)
        FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ($system_schemas)")
    # transactions (GTID groups), row events, rows
    read -r n_trx n_row_events n_rows < <("$relay" inspect --format jsonl "$src"/binlog/mariadb-bin.[0-9]* | python3 -c '
import json, sys
trx = events = rows = 0
for line in sys.stdin:
    if "\"rows\"" not in line:
        if line.startswith("{\"type\":\"MARIADB_GTID_EVENT\"") or line.startswith("{\"type\":\"GTID_EVENT\""):
            trx += 1
        continue
    event = json.loads(line)
    if "rows" in event:
        events += 1
        rows += len(event["rows"])
print(trx, events, rows)')
    census[$workload]="$n_trx $n_rows $binlog_bytes $binlog_count $n_row_events"
    log "$workload: $n_trx transactions, $n_rows rows in $n_row_events row events, $binlog_bytes bytes in $binlog_count files, end $end_file:$end_pos"

    # The relay's local log, made once (timed apart).
    relaylog="$work/relaylog-$workload"
    rm -rf "$relaylog"
    t0=$(now)
    "$relay" run --source-url "mysql://root@127.0.0.1:$port?ssl-mode=DISABLED" --log-dir "$relaylog" \
        --server-id 4001 --start earliest --exit-when-caught-up 2>"$work/run.err" ||
        { tail -n 5 "$work/run.err" >&2; die "binlog-relay run failed"; }
    pulls[$workload]=$(seconds_between "$t0" "$(now)")
    log "$workload: relayed into $relaylog in ${pulls[$workload]} s ($(du -sb "$relaylog" | cut -f1) bytes)"

    for ((run = 1; run <= runs; run++)); do
        [ "$runs" -eq 1 ] || log "-- run $run of $runs"
        for t in "${native_threads[@]}"; do native "$workload" "$t" sql; done
        if $relay_apply; then
            for n in "${workers[@]}"; do relay_apply "$workload" "$n" "$tport" false; done
        fi
        if $delay; then
            if $relay_apply; then
                for n in "${workers[@]}"; do relay_apply "$workload" "$n" "$target_proxy_port" true; done
            fi
            for t in "${native_threads[@]}"; do
                native "$workload" "$t" e2e-direct
                native "$workload" "$t" e2e-delay
            done
        fi
    done
done
total_s=$(seconds_between "$start_time" "$(now)")

# --- report ----------------------------------------------------------------------------------
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
range() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR > 1) printf " (%s–%s)", lo, hi }'; }
per_s() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", b / a; else print "-" }'; }
median_of() { echo "${secs[$1]:-}" | median; }

version=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')
echo
echo "Apply throughput, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m); median of $runs run(s); whole script ${total_s} s"
echo "binlog-relay $version$($relay_apply || echo ' (no apply subcommand: relay rows not measured)'); $(mariadbd --version 2>/dev/null || /usr/sbin/mariadbd --version); $(sysbench --version)"
echo "source: $source_settings"
echo "target: $target_settings; TLS for the relay (VERIFY_IDENTITY); native replication's IO thread without TLS (MASTER_SSL=0, not timed in 'apply only')"
[ -z "$rtt_note" ] || echo "delay: Benchmarks/scripts/$proxy_name --rtt-ms $rtt; $rtt_note"
for workload in "${workloads[@]}"; do
    read -r n_trx n_rows bytes files n_row_events <<<"${census[$workload]}"
    echo
    echo "### $workload: ${workload_notes[$workload]}"
    echo
    echo "$n_trx transactions, $n_rows rows ($n_row_events row events), $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MB of binlog in $files file(s); binlog-relay run (pull into the local log, not in the figures below): ${pulls[$workload]} s"
    echo
    echo "| applier | seconds | transactions/s | rows/s | ÷ native (same parallelism and delay) | peak RSS | target = source |"
    echo "|---|---|---|---|---|---|---|"
    for key in "${case_order[@]}"; do
        [ "${key%%|*}" = "$workload" ] || continue
        label=${key#*|}
        s=$(median_of "$key")
        # The native row this one compares with: the same parallelism (--workers 1 with
        # slave_parallel_threads=0) and the same delay (apply only without; with it, native's
        # IO+SQL through the proxy in front of the source).
        cmp=""
        case $label in
            relay*) n=${label#*--workers }; n=${n%%,*}; [ "$n" != 1 ] || n=0
                    cmp="$workload|native, apply only, slave_parallel_threads=$n"
                    case $label in *"RTT relay→target") cmp="$workload|native, IO+SQL, slave_parallel_threads=$n, ${rtt} ms RTT source→replica" ;; esac ;;
        esac
        vs="-" tps="-" rps="-"
        if [ "${checks[$key]}" = ok ] || [ "${checks[$key]}" = MISMATCH ]; then
            tps=$(per_s "$n_trx" "$s")
            rps=$(per_s "$n_rows" "$s")
            [ -z "$cmp" ] || [ -z "${secs[$cmp]:-}" ] || [ "${checks[$cmp]}" != ok ] || vs=$(ratio "$s" "$(median_of "$cmp")")
        fi
        mem="-"
        [ -z "${rss[$key]:-}" ] || mem="$(( $(echo "${rss[$key]}" | tr ' ' '\n' | sort -n | tail -n 1) / 1024 )) MB"
        echo "| $label | $s$(echo "${secs[$key]}" | range) | $tps | $rps | $vs | $mem | ${checks[$key]} |"
    done
    if $delay; then
        echo
        echo "With ${rtt} ms added round trip, throughput ÷ the same without (goal for the relay: ≥ 0.50):"
        for key in "${case_order[@]}"; do
            [ "${key%%|*}" = "$workload" ] || continue
            label=${key#*|}
            case $label in
                *"RTT relay→target") base="${key%, * ms RTT relay→target}" ;;
                *"RTT source→replica") base="${key%, * ms RTT source→replica}, no delay" ;;
                *) continue ;;
            esac
            [ -n "${secs[$base]:-}" ] && [ "${checks[$key]}" = ok ] && [ "${checks[$base]}" = ok ] || continue
            label=${base#*|}
            echo "- ${label%, no delay}: $(ratio "$(median_of "$key")" "$(median_of "$base")" | sed 's/x$//')"
        done
    fi
done
echo
echo "Command: Benchmarks/scripts/apply-benchmark.sh${argv[*]:+ ${argv[*]}}"
echo "  with SYSBENCH_TABLES=$sb_tables SYSBENCH_TABLE_SIZE=$sb_table_size SYSBENCH_EVENTS=$sb_events SYSBENCH_THREADS=$sb_threads EVERY_TYPE_ROUNDS=$et_rounds EVERY_TYPE_COPIES=$et_copies${et_as_is:+ EVERY_TYPE_AS_IS=1} NATIVE_THREADS=\"${native_threads[*]}\" WORKERS=\"${workers[*]}\" APPLY_OPTS=\"${apply_opts[*]:-}\" DELAY_RTT_MS=$rtt DELAY_PROXY=${DELAY_PROXY:-c}${SERVER_OPTS:+ SERVER_OPTS=\"$SERVER_OPTS\"}${RELAY_BIN:+ RELAY_BIN=$RELAY_BIN}"
echo "Measured commands (P = $port source, $tport target, $source_proxy_port / $target_proxy_port proxies):"
echo "  mariadbd (both): ${common_opts[*]} (+ scripts/mariadb-sandbox.sh's); target also: ${target_opts[*]//$work/TMP}"
echo "  native: CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=P, MASTER_USER='root', MASTER_LOG_FILE='$first_file', MASTER_LOG_POS=4, MASTER_USE_GTID=no, MASTER_SSL=0;"
echo "          [START SLAVE IO_THREAD; ...fetched...; STOP SLAVE IO_THREAD;] timed: START SLAVE [SQL_THREAD]; SELECT MASTER_POS_WAIT('<end file>', <end pos>)"
echo "  relay:  binlog-relay run --source-url 'mysql://root@127.0.0.1:$port?ssl-mode=DISABLED' --log-dir DIR --server-id 4001 --start earliest --exit-when-caught-up"
echo "          timed: binlog-relay apply --log-dir DIR --target-url 'mysql://root@127.0.0.1:$tport?ssl-mode=VERIFY_IDENTITY&ssl-ca=CA.pem' --until-end --workers N${apply_opts[*]:+ ${apply_opts[*]}}"
$delay && echo "  delay:  Benchmarks/scripts/$proxy_name --listen $target_proxy_port --connect 127.0.0.1:$tport --rtt-ms $rtt (and --listen $source_proxy_port --connect 127.0.0.1:$port)"
[ "$failures" -eq 0 ] || { log "$failures run(s) failed or left the target different from the source"; exit 1; }
