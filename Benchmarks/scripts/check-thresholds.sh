#!/usr/bin/env bash
# check-thresholds.sh - CI's decode benchmark: fails on a regression of the counts that stay
# stable on shared machines, against the thresholds checked into Benchmarks/Thresholds/.
#
# Usage: Benchmarks/scripts/check-thresholds.sh [--update]
#
# Two checks, both on the committed fixture binlogs (DecodeBenchmarks.swift lists them):
#  1. package-benchmark (`swift package benchmark thresholds check`, with CI=true so only
#     .instructions and .mallocCountTotal are measured). Tolerances are in the benchmark
#     code: mallocs may not grow at all, instructions by 3%. Machines whose kernel gives no
#     hardware counters (perf_event_open fails, as in most VMs here) record no instructions,
#     so there:
#  2. callgrind counts the instructions of one full decode of each fixture by decode-throughput
#     (only inside decodeEveryValue, deterministic hashing), against
#     Thresholds/callgrind-instructions.tsv; more than 3% above fails.
# Improvements pass, with a note to run --update.
#
# --update rewrites both sets of thresholds from this machine (commit the result).
# Environment: CHECK_THRESHOLDS_TOLERANCE_PERCENT (callgrind, default 3).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench=$(cd "$here/.." && pwd)
root=$(cd "$bench/.." && pwd)
update=false
case "${1:-}" in
    --update) update=true ;;
    '') ;;
    *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac
tolerance=${CHECK_THRESHOLDS_TOLERANCE_PERCENT:-3}
export CI=${CI:-true}
export SWIFT_DETERMINISTIC_HASHING=1

log() { echo "check-thresholds.sh: $*" >&2; }

# What the checks need beyond what .ci/run installs (Swift is on the machine).
need=()
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
for pkg in zlib1g-dev libzstd-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

fixtures=(
    Fixtures/peers/mysql-cdc-rs/8.0/folder/binlog.000693
    Fixtures/peers/mysql-binlog-connector-java/mysql-bin.sakila
    Fixtures/mariadb-10.11/every-type-full.000001
    Fixtures/peers/mariadb-poc/domain_id_0/mariadb-repl-bin.000002
)

cd "$bench"
start=$(date +%s)

# --- 1. package-benchmark: mallocs (and instructions where the hardware counts them) -------
status=0
if $update; then
    log "swift package benchmark thresholds update"
    rm -f Thresholds/DecodeBenchmarks.*.p90.json
    swift package --allow-writing-to-package-directory benchmark thresholds update --no-progress
else
    log "swift package benchmark thresholds check"
    swift package benchmark thresholds check --no-progress || status=$?
    case $status in
        0) log "package-benchmark: within thresholds" ;;
        4) log "package-benchmark: improvements only; run $0 --update and commit Thresholds/"; status=0 ;;
        *) log "package-benchmark: REGRESSION or failure (exit $status)" ;;
    esac
fi
log "package-benchmark step took $(($(date +%s) - start)) s"

# --- 2. callgrind instruction counts ---------------------------------------------------------
swift build -c release --product decode-throughput >/dev/null
binary=$(swift build -c release --show-bin-path)/decode-throughput
table=Thresholds/callgrind-instructions.tsv
work=$(mktemp -d "${TMPDIR:-/tmp}/check-thresholds.XXXXXX")
trap 'rm -rf "$work"' EXIT

# instructions FILE: instructions executed inside decodeEveryValue for one decode of FILE.
instructions() {
    valgrind --tool=callgrind --callgrind-out-file="$work/out" --toggle-collect='*decodeEveryValue*' \
        "$binary" --iterations 1 --min-seconds 0 "$root/$1" >/dev/null 2>"$work/err" || {
        cat "$work/err" >&2
        return 1
    }
    awk '/^summary:/ { print $2 }' "$work/out"
}

callgrind_failed=0
if $update; then
    {
        echo "# Instructions inside decodeEveryValue for one decode of each file (callgrind, written by"
        echo "# Benchmarks/scripts/check-thresholds.sh --update; Swift $(swift --version 2>&1 | sed -n 's/.*Swift version \([^ ]*\).*/\1/p' | head -n 1))."
        for file in "${fixtures[@]}"; do
            printf '%s\t%s\n' "$file" "$(instructions "$file")"
        done
    } >"$work/table"
    mv "$work/table" "$table"
    cat "$table"
else
    [ -f "$table" ] || { log "$table is missing: run $0 --update"; exit 1; }
    for file in "${fixtures[@]}"; do
        limit=$(awk -F'\t' -v f="$file" '$1 == f { print $2 }' "$table")
        [ -n "$limit" ] || { log "no callgrind threshold for $file in $table"; callgrind_failed=1; continue; }
        now=$(instructions "$file")
        verdict=$(awk -v now="$now" -v limit="$limit" -v tol="$tolerance" 'BEGIN {
            change = (now - limit) * 100 / limit
            printf "%+.2f%% ", change
            if (change > tol) print "REGRESSION"; else if (change < -tol) print "improvement"; else print "ok"
        }')
        printf 'callgrind  %-64s %14s instructions (threshold %s, %s)\n' "$file" "$now" "$limit" "$verdict"
        case $verdict in
            *REGRESSION) callgrind_failed=1 ;;
            *improvement) log "improvement on $file: run $0 --update and commit Thresholds/" ;;
        esac
    done
fi
log "total $(($(date +%s) - start)) s"

if [ "$status" -ne 0 ] || [ "$callgrind_failed" -ne 0 ]; then
    log "FAILED: decode benchmark regressed against Benchmarks/Thresholds/"
    exit 1
fi
log "decode benchmarks within thresholds"
