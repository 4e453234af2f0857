#!/usr/bin/env bash
# compare.sh - decode throughput of binlog-relay against its peers, measured in one run on the
# same files: mariadb-binlog -vv and python-mysql-replication.
#
# Usage: Benchmarks/scripts/compare.sh [--runs N] [--no-python] [--no-build] [--fixtures-only | --sysbench-only]
#
# Inputs: the committed fixtures that DecodeBenchmarks uses, and the recorded sysbench binlogs
# in Benchmarks/data/sysbench/ when present (record them with record-sysbench-binlog.sh).
# For each input it measures:
#   relay (in memory)  decode-throughput: every value of every row, CRC32 verified, the file
#                      already in memory; median of >= 5 iterations and >= 2 s
#   relay (process)    `decode-throughput --iterations 1 FILES`: the same decode as a whole
#                      process, file reading included (hyperfine)
#   inspect jsonl      `binlog-relay inspect --format jsonl FILES > /dev/null` (hyperfine)
#   mariadb-binlog     `mariadb-binlog --base64-output=decode-rows -vv FILES > /dev/null` (hyperfine)
#   python             for MariaDB-written inputs with rows: python-stream.py streams the same
#                      files from a sandbox MariaDB with python-mysql-replication, every value
#                      of every row touched, CRC32 verified. The server serves the very files
#                      measured above: they are copied into its binlog directory and index
#                      before it starts; the schema is created from the files' own DDL with
#                      sql_log_bin=0, so nothing is added before the end of the last file.
# Ratios are against the peers measured in this run. Prints a markdown table at the end.
#
# Environment: PORT=33340 (sandbox), RELAY_SCRATCH=.build-release (root build folder).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench=$(cd "$here/.." && pwd)
root=$(cd "$bench/.." && pwd)
runs=5
python=true
build=true
which=all
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --no-python) python=false; shift ;;
        --no-build) build=false; shift ;;
        --fixtures-only) which=fixtures; shift ;;
        --sysbench-only) which=sysbench; shift ;;
        *) echo "usage: $0 [--runs N] [--no-python] [--no-build] [--fixtures-only | --sysbench-only]" >&2; exit 2 ;;
    esac
done
port=${PORT:-33340}
scratch=${RELAY_SCRATCH:-.build-release}

log() { echo "compare.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# --- tools -----------------------------------------------------------------------------------
need=()
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
command -v mariadb-binlog >/dev/null 2>&1 || need+=(mariadb-client)
if $python && ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then need+=(mariadb-server); fi
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if $python && ! python3 -c 'import pymysqlreplication, pymysql' 2>/dev/null; then
    log "installing python-mysql-replication"
    python3 -m pip install -q mysql-replication PyMySQL
fi

if $build; then
    log "building binlog-relay (release, $scratch) and decode-throughput"
    (cd "$root" && swift build -c release --product binlog-relay --scratch-path "$scratch" >/dev/null)
    (cd "$bench" && swift build -c release --product decode-throughput >/dev/null)
fi
relay="$root/$scratch/release/binlog-relay"
decoder="$(cd "$bench" && swift build -c release --show-bin-path)/decode-throughput"

work=$(mktemp -d /tmp/compare.XXXXXX)
cleanup() {
    local rc=$?
    [ ! -d "$work/srv" ] || "$root/scripts/mariadb-sandbox.sh" stop "$work/srv" >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- inputs: NAME|FILE FILE ... ---------------------------------------------------------------
inputs=()
if [ "$which" != sysbench ]; then
    inputs+=(
        "mysql-8.0 binlog.000693|Fixtures/peers/mysql-cdc-rs/8.0/folder/binlog.000693"
        "sakila WRITE_ROWS_V1|Fixtures/peers/mysql-binlog-connector-java/mysql-bin.sakila"
        "mariadb-10.11 every-type-full|Fixtures/mariadb-10.11/every-type-full.000001"
        "mariadb-poc repl-bin.000002|Fixtures/peers/mariadb-poc/domain_id_0/mariadb-repl-bin.000002"
    )
fi
if [ "$which" != fixtures ]; then
    sysbench=()
    for f in "$bench"/data/sysbench/sysbench-bin.[0-9]*; do
        [ -f "$f" ] && sysbench+=("${f#"$root"/}")
    done
    if [ ${#sysbench[@]} -gt 0 ]; then
        inputs+=("sysbench (${#sysbench[@]} files)|${sysbench[*]}")
    else
        log "no Benchmarks/data/sysbench/sysbench-bin.*: run Benchmarks/scripts/record-sysbench-binlog.sh for the sysbench figures"
    fi
fi

# median_seconds JSON: the median of hyperfine's runs, per command, one per line.
median_seconds() {
    python3 -c 'import json, sys
for r in json.load(open(sys.argv[1]))["results"]: print("%.6f" % r["median"])' "$1"
}
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1048576 / s; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1fx", b / a; else print "-" }'; }

# python_stream FILE...: serves FILE... from a sandbox MariaDB and prints python-stream.py's
# "row_events rows values seconds" line for each of $runs runs (at most 3).
python_stream() {
    local base first last f dir
    first=$(basename "$1")
    base=${first%.*}
    last=$(basename "${!#}")
    dir="$work/srv"
    rm -rf "$dir"
    mkdir -p "$dir/binlog"
    for f in "$@"; do
        cp "$root/$f" "$dir/binlog/"
        echo "$dir/binlog/$(basename "$f")" >>"$dir/binlog/$base.index"
    done
    "$root/scripts/mariadb-sandbox.sh" start "$dir" "$port" --log-bin="$dir/binlog/$base" \
        --log-bin-index="$dir/binlog/$base.index" --max-binlog-size=1073741824 >"$work/sandbox.log" 2>&1 ||
        { cat "$work/sandbox.log" >&2; return 1; }
    # The schema, from the files' own statements (rows are not replayed, nothing is logged).
    (cd "$root" && mariadb-binlog --base64-output=decode-rows "$@") |
        mariadb --no-defaults -h127.0.0.1 -P "$port" -uroot --force --init-command='SET sql_log_bin=0' \
            >/dev/null 2>"$work/schema.err" || true
    local n=$((runs < 3 ? runs : 3)) i ok=0
    for ((i = 0; i < n; i++)); do
        timeout 3600 python3 "$here/python-stream.py" "$port" "$first" --end-file "$last" 2>>"$work/python.err" ||
            { ok=1; break; }
    done
    "$root/scripts/mariadb-sandbox.sh" stop "$dir" >/dev/null 2>&1
    return $ok
}

rows_md=()
for input in "${inputs[@]}"; do
    name=${input%%|*}
    read -r -a files <<<"${input#*|}"
    log "== $name"
    cd "$root"
    # bytes events row_events rows values iterations median_s best_s MB/s events/s rows/s
    read -r bytes events _ rows values _ mem_s _ <<<"$("$decoder" --tsv --iterations 5 --min-seconds 2 "${files[@]}")"
    hyperfine -N --runs "$runs" --warmup 1 --output=null --export-json "$work/h.json" \
        "$decoder --iterations 1 --min-seconds 0 ${files[*]}" \
        "$relay inspect --format jsonl ${files[*]}" \
        "mariadb-binlog --base64-output=decode-rows -vv ${files[*]}" >&2
    { read -r proc_s; read -r jsonl_s; read -r mdb_s; } < <(median_seconds "$work/h.json")
    py_s=""
    py_cell="-"
    if $python && [ "$rows" -gt 0 ] && head -c 200 "${files[0]}" | grep -aq MariaDB; then
        log "python-mysql-replication from a sandbox server"
        if out=$(python_stream "${files[@]}") && [ -n "$out" ]; then
            echo "$out" | sed 's/^/python-stream: row_events rows values seconds = /' >&2
            py_rows=$(echo "$out" | awk 'NR == 1 { print $2 }')
            [ "$py_rows" = "$rows" ] || log "python-mysql-replication saw $py_rows rows, the relay $rows"
            py_s=$(echo "$out" | awk '{ print $4 }' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
        else
            py_cell="failed"
            log "python-mysql-replication failed:"; tail -3 "$work/python.err" >&2 || true
        fi
    fi
    mb=$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')
    py_ratio="-"
    if [ -n "$py_s" ]; then
        py_cell="$(mbps "$bytes" "$py_s") MB/s ($(awk -v r="$rows" -v s="$py_s" 'BEGIN { printf "%.0f", r / s }') rows/s)"
        py_ratio="$(ratio "$mem_s" "$py_s") / $(ratio "$proc_s" "$py_s")"
    fi
    rows_md+=("| $name | $mb MB, $events events, $rows rows, $values values \
| $(mbps "$bytes" "$mem_s") ($(awk -v r="$rows" -v s="$mem_s" 'BEGIN { printf "%.0f", r / s }') rows/s) \
| $(mbps "$bytes" "$proc_s") | $(mbps "$bytes" "$jsonl_s") | $(mbps "$bytes" "$mdb_s") | $py_cell \
| $(ratio "$mem_s" "$mdb_s") / $(ratio "$proc_s" "$mdb_s") | $(ratio "$jsonl_s" "$mdb_s") | $py_ratio |")
done

echo
echo "Decode throughput, MB/s of binlog (median), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m)"
echo "relay: binlog-relay $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "${RELAY_COMMIT:-?}"); $(mariadb-binlog --version | head -n 1)"
if $python; then
    echo "python: mysql-replication $(python3 -c 'import importlib.metadata as m; print(m.version("mysql-replication"))' 2>/dev/null || echo '?'), $(python3 --version)"
fi
echo
echo "| input | size | relay in memory | relay process | inspect jsonl | mariadb-binlog -vv | python-mysql-replication | relay vs mariadb-binlog (memory / process) | jsonl vs mariadb-binlog | relay vs python (memory / process) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows_md[@]}"
