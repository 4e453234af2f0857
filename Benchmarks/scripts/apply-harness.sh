#!/usr/bin/env bash
# apply-harness.sh - alternating runs of `binlog-relay apply` and of the target's native
# replication on the servers an apply-benchmark.sh run kept, each with the target's CPU time: for
# comparing variants of the applier (an environment variable, --workers) where the machine is too
# noisy for medians of separate runs.
#
# Usage:
#   KEEP_WORK=1 Benchmarks/scripts/apply-benchmark.sh --runs 1 --no-build --workload every-type --no-delay
#   Benchmarks/scripts/apply-harness.sh WORK_DIR [--rounds N] MODE...
#
# WORK_DIR is the directory that run kept (its last line names it), holding one workload's local
# log (relaylog-*), the stopped servers, the options they ran with (server-options.sh: they are
# started again with the same) and the TLS files. MODE is one of
#   relay:WORKERS[:VAR=VALUE]...   binlog-relay apply --workers WORKERS, with those variables set
#   native:THREADS                 the target's replication from the source, slave_parallel_threads
# Each round runs every MODE once, in order, after emptying the target; a line per run:
#   MODE  seconds  target-CPU-seconds
# The relay is timed as a whole process (as apply-benchmark.sh does); native replication from
# START SLAVE SQL_THREAD to MASTER_POS_WAIT at the source binlog's end, its IO thread having
# fetched everything first. The target's CPU is utime + stime of its mariadbd (/proc/PID/stat).
#
# Example (session 10, Benchmarks/RESULTS.md):
#   apply-harness.sh /tmp/apply-benchmark.1RtCqx --rounds 5 relay:1:BINLOG_RELAY_TEXT_INSERTS=1 relay:1
#
# Environment: PORT=33370 (the source; the target PORT+1, as apply-benchmark.sh), RELAY_BIN
# (default .build-release/release/binlog-relay).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
sandbox="$root/scripts/mariadb-sandbox.sh"
die() { echo "apply-harness.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 WORK_DIR [--rounds N] MODE..."
work=$1
shift
rounds=3
if [ "${1:-}" = --rounds ]; then
    rounds=$2
    shift 2
fi
[ $# -ge 1 ] || die "no MODE given"
modes=("$@")
port=${PORT:-33370}
tport=$((port + 1))
relay=${RELAY_BIN:-$root/.build-release/release/binlog-relay}
[ -x "$relay" ] || die "no binlog-relay at $relay (build it, or set RELAY_BIN)"
logs=("$work"/relaylog-*)
[ ${#logs[@]} -eq 1 ] && [ -d "${logs[0]}" ] || die "$work must hold exactly one relaylog-* directory"
relaylog=${logs[0]}

# The servers' options as apply-benchmark.sh started them (common_opts, target_opts).
[ -f "$work/server-options.sh" ] || die "$work has no server-options.sh (kept by an older apply-benchmark.sh?)"
source "$work/server-options.sh"
"$sandbox" status "$work/source" >/dev/null || "$sandbox" start "$work/source" "$port" "${common_opts[@]}" >/dev/null
"$sandbox" status "$work/target" >/dev/null || "$sandbox" start "$work/target" "$tport" "${common_opts[@]}" "${target_opts[@]}" >/dev/null
trap '"$sandbox" stop "$work/source" >/dev/null 2>&1; "$sandbox" stop "$work/target" >/dev/null 2>&1' EXIT

tclient() { mariadb --no-defaults -h127.0.0.1 -P "$tport" -uroot --batch --skip-column-names "$@"; }
now() { date +%s.%N; }
cpu() { awk '{ print $14 + $15 }' "/proc/$(cat "$work/target/mysqld.pid")/stat"; }
ticks=$(getconf CLK_TCK)
report() { awk -v m="$1" -v a="$2" -v b="$3" -v c="$4" -v d="$5" -v t="$ticks" 'BEGIN { printf "%-40s %.3f s  target CPU %.2f s\n", m, b - a, (d - c) / t }'; }

# system_schemas, reset_target
source "$here/apply-common.sh"

run_relay() {
    local mode=$1 workers rest c0 t0 t1 c1
    IFS=: read -r _ workers rest <<<"$mode"
    local env_args=()
    if [ -n "$rest" ]; then
        IFS=: read -r -a env_args <<<"$rest"
    fi
    reset_target
    c0=$(cpu)
    t0=$(now)
    env ${env_args[@]+"${env_args[@]}"} "$relay" apply --log-dir "$relaylog" --until-end --workers "$workers" \
        --target-url "mysql://root@127.0.0.1:$tport?ssl-mode=VERIFY_IDENTITY&ssl-ca=$work/tls/ca.pem" \
        >/dev/null 2>"$work/harness-apply.err" || { tail -n 3 "$work/harness-apply.err" >&2; die "$mode failed"; }
    t1=$(now)
    c1=$(cpu)
    report "$mode" "$t0" "$t1" "$c0" "$c1"
}

# The source's binlog of the workload is its first; the sandbox's restarts began later ones.
run_native() {
    local mode=$1 threads c0 t0 t1 c1
    threads=${mode#native:}
    reset_target
    tclient -e "SET GLOBAL slave_parallel_threads = $threads; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$port,
        MASTER_USER='root', MASTER_LOG_FILE='mariadb-bin.000001', MASTER_LOG_POS=4, MASTER_USE_GTID=no, MASTER_SSL=0;
        START SLAVE IO_THREAD"
    # Fetched once the IO thread has gone on to a later binlog.
    until mariadb --no-defaults -h127.0.0.1 -P "$tport" -uroot -e 'SHOW SLAVE STATUS\G' |
        awk '$1 == "Master_Log_File:" && $2 != "mariadb-bin.000001" && $2 != "" { found = 1 } END { exit !found }'; do
        sleep 0.2
    done
    tclient -e 'STOP SLAVE IO_THREAD'
    c0=$(cpu)
    t0=$(now)
    tclient -e "START SLAVE SQL_THREAD; SELECT MASTER_POS_WAIT('mariadb-bin.000002', 4, 600)" >/dev/null
    t1=$(now)
    c1=$(cpu)
    tclient -e 'STOP SLAVE'
    report "$mode" "$t0" "$t1" "$c0" "$c1"
}

for ((round = 1; round <= rounds; round++)); do
    echo "-- round $round of $rounds"
    for mode in "${modes[@]}"; do
        case $mode in
            relay:*) run_relay "$mode" ;;
            native:*) run_native "$mode" ;;
            *) die "unknown MODE '$mode'" ;;
        esac
    done
done
