#!/usr/bin/env bash
# pull-benchmark.sh - pull throughput of `binlog-relay run` from a local MariaDB into its durable
# local log, over TLS with fsync on, against `mariadb-binlog --read-from-remote-server --raw`
# pulling the same binlog over TLS in the same run; and the relay's peak resident memory.
#
# Usage: Benchmarks/scripts/pull-benchmark.sh [--runs N] [--no-build] [--per-transaction-fsync]
#
# Input: the recorded sysbench binlogs in Benchmarks/data/sysbench/ (git-ignored; recorded by
# record-sysbench-binlog.sh when missing). They are copied into a sandbox MariaDB's binlog
# directory and index before it starts (as compare.sh does), so the server serves exactly those
# files, plus the few hundred bytes of the file it opens itself.
#
# TLS: a CA and a server certificate for 127.0.0.1 are made with openssl in a temporary
# directory; the server starts with --ssl-ca/--ssl-cert/--ssl-key. Both clients use TLS without
# verifying the certificate (relay: ssl-mode=REQUIRED; mariadb-binlog: --ssl), and the script
# checks that the server counted a TLS handshake for each.
#
# Measured (hyperfine, median of N runs, `sync` and a fresh output directory before each):
#   relay           binlog-relay run --source-url 'mysql://root@127.0.0.1:PORT?ssl-mode=REQUIRED'
#                     --log-dir DIR --server-id 4001 --start earliest --exit-when-caught-up
#                   (default group commit: fsync at every transaction end unless more of the
#                   stream has already arrived, then at most every 50 ms / 8 MiB; CRC32 of every
#                   event verified; every byte fdatasynced before the run ends)
#   mariadb-binlog  mariadb-binlog --read-from-remote-server --raw --ssl -h127.0.0.1 -PPORT -uroot
#                     --result-file=DIR/ FIRST --to-last-log      (writes files, no fsync)
# MB/s = bytes of the source's binlog files / median seconds. Peak RSS: /usr/bin/time -v
# ("Maximum resident set size") of one relay run pulling everything and of one pulling only the
# last 100 MB file, to show it does not grow with the size of the binlog; and, from a second
# server, of a pull of one 1,000,000-row transaction (~205 MB) and of one 100 MB row event.
# --per-transaction-fsync adds one run with --sync-max-delay-ms 0 (an fsync at every
# transaction end, the behaviour before the catch-up group commit; ~40 s on this VM).
#
# Environment: PORT=33350 (sandbox; PORT+1 for the second), RELAY_SCRATCH=.build-release (build folder).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench=$(cd "$here/.." && pwd)
root=$(cd "$bench/.." && pwd)
runs=5
build=true
per_transaction=false
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --no-build) build=false; shift ;;
        --per-transaction-fsync) per_transaction=true; shift ;;
        *) echo "usage: $0 [--runs N] [--no-build] [--per-transaction-fsync]" >&2; exit 2 ;;
    esac
done
port=${PORT:-33350}
scratch=${RELAY_SCRATCH:-.build-release}

log() { echo "pull-benchmark.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# --- tools -----------------------------------------------------------------------------------
need=()
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
command -v mariadb-binlog >/dev/null 2>&1 || need+=(mariadb-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /usr/bin/time ] || need+=(time)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

data="$bench/data/sysbench"
if ! ls "$data"/sysbench-bin.[0-9]* >/dev/null 2>&1; then
    log "no recorded binlog in $data: recording one (300 MB)"
    "$here/record-sysbench-binlog.sh" 300 "$data"
fi
files=()
for f in "$data"/sysbench-bin.[0-9]*; do files+=("$f"); done

if $build; then
    log "building binlog-relay (release, $scratch)"
    (cd "$root" && swift build -c release --product binlog-relay --scratch-path "$scratch" >/dev/null)
fi
relay="$root/$scratch/release/binlog-relay"
[ -x "$relay" ] || die "$relay not built"

work=$(mktemp -d "${TMPDIR:-/tmp}/pull-benchmark.XXXXXX")
cleanup() {
    local rc=$?
    [ ! -d "$work/srv" ] || "$root/scripts/mariadb-sandbox.sh" stop "$work/srv" >/dev/null 2>&1 || true
    [ ! -d "$work/big" ] || "$root/scripts/mariadb-sandbox.sh" stop "$work/big" >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- certificates ----------------------------------------------------------------------------
tls="$work/tls"
"$root/scripts/make-tls-certificates.sh" "$tls" pull-benchmark || die "openssl failed"

# --- server ----------------------------------------------------------------------------------
srv="$work/srv"
mkdir -p "$srv/binlog"
base=$(basename "${files[0]}")
base=${base%.*}
for f in "${files[@]}"; do
    cp "$f" "$srv/binlog/"
    echo "$srv/binlog/$(basename "$f")" >>"$srv/binlog/$base.index"
done
"$root/scripts/mariadb-sandbox.sh" start "$srv" "$port" --log-bin="$srv/binlog/$base" \
    --log-bin-index="$srv/binlog/$base.index" --max-binlog-size=1073741824 \
    --ssl-ca="$tls/ca.pem" --ssl-cert="$tls/server.pem" --ssl-key="$tls/server.key" >"$work/sandbox.log" 2>&1 ||
    { cat "$work/sandbox.log" >&2; die "the sandbox server did not start"; }
client() { mariadb --no-defaults -h127.0.0.1 -P "$port" -uroot --batch --skip-column-names "$@"; }
ssl_accepts() { client -e "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'" | awk '{ print $2 }'; }
binlog_bytes=$(client -e 'SHOW BINARY LOGS' | awk '{ s += $2 } END { print s }')
binlog_files=$(client -e 'SHOW BINARY LOGS' | wc -l)
first=$(client -e 'SHOW BINARY LOGS' | awk 'NR == 1 { print $1 }')
last_big=$(client -e 'SHOW BINARY LOGS' | awk '$2 > 50000000 { f = $1 } END { print f }')
mb=$(awk -v b="$binlog_bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
log "server on 127.0.0.1:$port serves $binlog_files files, $binlog_bytes bytes ($mb MB)"

url="mysql://root@127.0.0.1:$port?ssl-mode=REQUIRED"
relay_cmd="$relay run --source-url '$url' --log-dir $work/relaylog --server-id 4001 --start earliest --exit-when-caught-up"
mdb_cmd="mariadb-binlog --no-defaults --read-from-remote-server --raw --ssl -h127.0.0.1 -P$port -uroot --result-file=$work/mdb/ $first --to-last-log"

# --- checks: both use TLS, both pull everything -----------------------------------------------
rm -rf "$work/relaylog"
before=$(ssl_accepts)
eval "$relay_cmd" 2>"$work/relay.out" || { cat "$work/relay.out" >&2; die "the relay failed"; }
[ "$(ssl_accepts)" -gt "$before" ] || die "the relay did not use TLS"
grep -o 'tls=[^ ]*' "$work/relay.out" | head -n 1 >&2
relay_bytes=$(du -cb "$work"/relaylog/relay-*.bin | awk 'END { print $1 }')
rm -rf "$work/mdb" && mkdir -p "$work/mdb"
before=$(ssl_accepts)
eval "$mdb_cmd" || die "mariadb-binlog failed"
[ "$(ssl_accepts)" -gt "$before" ] || die "mariadb-binlog did not use TLS"
mdb_bytes=$(du -cb "$work"/mdb/* | awk 'END { print $1 }')
log "relay log: $relay_bytes bytes in $(ls "$work"/relaylog/relay-*.bin | wc -l) segments; mariadb-binlog: $mdb_bytes bytes in $(ls "$work"/mdb | wc -l) files"
for f in "${files[@]}"; do
    cmp -s "$f" "$work/mdb/$(basename "$f")" || die "mariadb-binlog's copy of $(basename "$f") differs from the source file"
done

# --- throughput ------------------------------------------------------------------------------
hyperfine --runs "$runs" --warmup 1 --export-json "$work/h.json" \
    --command-name relay --prepare "rm -rf $work/relaylog; sync" "$relay_cmd" \
    --command-name mariadb-binlog --prepare "rm -rf $work/mdb; mkdir -p $work/mdb; sync" "$mdb_cmd" >&2
read -r relay_s mdb_s < <(python3 -c 'import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print("%.4f %.4f" % (r["relay"]["median"], r["mariadb-binlog"]["median"]))' "$work/h.json")
read -r relay_min relay_max mdb_min mdb_max < <(python3 -c 'import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print("%.3f %.3f %.3f %.3f" % (r["relay"]["min"], r["relay"]["max"], r["mariadb-binlog"]["min"], r["mariadb-binlog"]["max"]))' "$work/h.json")

# --- memory ----------------------------------------------------------------------------------
peak_rss() {  # peak_rss START: kB
    rm -rf "$work/relaylog"
    sync
    /usr/bin/time -v "$relay" run --source-url "$url" --log-dir "$work/relaylog" --server-id 4002 --start "$1" \
        --exit-when-caught-up 2>"$work/time.out" >/dev/null || { cat "$work/time.out" >&2; die "relay run failed"; }
    awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.out"
}
rss_all=$(peak_rss earliest)
syncs=$(grep -o 'syncs=[0-9]*' "$work/time.out" | cut -d= -f2)
fsync_ms=$(grep -o 'fsync_ms=[0-9.]*' "$work/time.out" | cut -d= -f2)
rss_one=$(peak_rss "$last_big:4")

per_tx=""
if $per_transaction; then
    rm -rf "$work/relaylog"
    sync
    start=$(date +%s.%N)
    eval "$relay_cmd --sync-max-delay-ms 0" 2>"$work/pertx.out" || { cat "$work/pertx.out" >&2; die "relay failed"; }
    end=$(date +%s.%N)
    per_tx=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }')
    per_tx_syncs=$(grep -o 'syncs=[0-9]*' "$work/pertx.out" | cut -d= -f2)
fi

# --- memory with one large transaction and one large event ---------------------------------------
# A second server: file 1 holds one 100 MB row event (a LONGBLOB), file 2 one transaction of
# 1,000,000 rows (~205 MB). The relay never holds a transaction in memory; the client library
# holds one whole event (packet) at a time.
big="$work/big"
"$root/scripts/mariadb-sandbox.sh" start "$big" $((port + 1)) --max-allowed-packet=256M \
    --innodb-flush-log-at-trx-commit=0 --innodb-log-file-size=1G --innodb-buffer-pool-size=1G \
    --ssl-ca="$tls/ca.pem" --ssl-cert="$tls/server.pem" --ssl-key="$tls/server.key" >"$work/sandbox-big.log" 2>&1 ||
    { cat "$work/sandbox-big.log" >&2; die "the second sandbox server did not start"; }
mariadb --no-defaults -h127.0.0.1 -P $((port + 1)) -uroot -e "
    CREATE DATABASE big;
    USE big;
    CREATE TABLE big.blobs (id INT PRIMARY KEY, body LONGBLOB);
    INSERT INTO big.blobs VALUES (1, REPEAT('z', 100 * 1024 * 1024));
    FLUSH BINARY LOGS;
    CREATE TABLE big.rows (id INT PRIMARY KEY AUTO_INCREMENT, pad VARCHAR(200));
    INSERT INTO big.rows (pad) SELECT REPEAT('p', 200) FROM seq_1_to_1000000;"
big_rss() {  # big_rss START: kB
    rm -rf "$work/biglog"
    /usr/bin/time -v "$relay" run --source-url "mysql://root@127.0.0.1:$((port + 1))?ssl-mode=REQUIRED" \
        --log-dir "$work/biglog" --server-id 4003 --start "$1" --exit-when-caught-up 2>"$work/time-big.out" >/dev/null ||
        { cat "$work/time-big.out" >&2; die "relay run failed"; }
    awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time-big.out"
}
rss_transaction=$(big_rss mariadb-bin.000002:4)
rss_event=$(big_rss earliest)
"$root/scripts/mariadb-sandbox.sh" stop "$big" >/dev/null 2>&1 || true

mbps() { awk -v b="$binlog_bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }
echo
echo "Pull throughput over TLS, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m)"
echo "binlog-relay $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'); $(mariadb-binlog --version | head -n 1); $(mariadbd --version 2>/dev/null || /usr/sbin/mariadbd --version)"
echo "input: $binlog_files files, $mb MB ($binlog_bytes bytes); median of $runs runs"
echo
echo "| command | median s (min–max) | MB/s | relay ÷ mariadb-binlog |"
echo "|---|---|---|---|"
echo "| relay (TLS, fsync, CRC32) | $relay_s ($relay_min–$relay_max) | $(mbps "$relay_s") | **$(awk -v a="$relay_s" -v b="$mdb_s" 'BEGIN { printf "%.2fx", b / a }')** |"
echo "| mariadb-binlog --raw (TLS, no fsync) | $mdb_s ($mdb_min–$mdb_max) | $(mbps "$mdb_s") | |"
if [ -n "$per_tx" ]; then
    echo "| relay, --sync-max-delay-ms 0 (one run) | $per_tx | $(mbps "$per_tx") | $(awk -v a="$per_tx" -v b="$mdb_s" 'BEGIN { printf "%.2fx", b / a }') |"
fi
echo
echo "relay: $syncs syncs for the whole pull ($fsync_ms ms in fdatasync)${per_tx:+; with --sync-max-delay-ms 0: $per_tx_syncs syncs}"
echo "relay peak RSS: $((rss_all / 1024)) MB pulling all $mb MB; $((rss_one / 1024)) MB pulling only $last_big;"
echo "  $((rss_transaction / 1024)) MB pulling one transaction of 1,000,000 rows (~205 MB);"
echo "  $((rss_event / 1024)) MB pulling that and one 100 MB row event (the library holds one whole event)"
