#!/usr/bin/env bash
# record.sh - record the MariaDB 10.11 "every type" binlog fixtures.
#
# Usage: Fixtures/mariadb-10.11/record.sh [VARIANT...]
#
# For each variant (default: all of them) this starts a fresh throwaway server
# with scripts/mariadb-sandbox.sh, runs every-type.sql against it, runs
# FLUSH BINARY LOGS, stops the server and copies the closed binlog file(s) here
# as VARIANT.NNNNNN (the server is started with --log-bin=.../VARIANT, so the
# file names inside the ROTATE and BINLOG_CHECKPOINT events match). Next to each
# file it writes FILE.mariadb-binlog.txt, produced by
#   TZ=UTC LC_ALL=C mariadb-binlog --base64-output=decode-rows --local-load=DIR -vv FILE
# (gzipped to .txt.gz with mtime 0 if it is larger than 1 MiB, as in
# ../shared/fixtures/binlogs). If ../shared/tools/binlog_census.py exists next to
# the repository, every file is checked with it (CRC32 of every event).
#
# Environment: RECORD_PORT (default 33310), KEEP_WORK=1 keeps the temp dir.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/../.." && pwd))
sandbox="$root/scripts/mariadb-sandbox.sh"
workload="$here/every-type.sql"
census="$root/../shared/tools/binlog_census.py"
port=${RECORD_PORT:-33310}

# name|extra mariadbd options (besides those set by mariadb-sandbox.sh:
# ROW format, CRC32 checksums, server_id=1, gtid_strict_mode=ON)
variants=(
    "every-type-full|--binlog-row-metadata=FULL"
    "every-type-minimal|--binlog-row-metadata=MINIMAL"
    "every-type-full-compressed|--binlog-row-metadata=FULL --log-bin-compress=ON --log-bin-compress-min-len=10"
    "every-type-minimal-image|--binlog-row-metadata=FULL --binlog-row-image=MINIMAL"
)
# Options common to every variant: the 10.11 defaults spelled out (so a changed
# default cannot silently change the fixtures), plus a pinned server time zone.
common_opts=(
    --binlog-annotate-row-events=ON
    --binlog-row-event-max-size=8192
    --max-binlog-size=1073741824
    --character-set-server=latin1
    --collation-server=latin1_swedish_ci
    --default-time-zone=+00:00
)

for tool in mariadb mariadb-binlog; do
    command -v "$tool" >/dev/null 2>&1 || { echo "record.sh: $tool not found" >&2; exit 1; }
done
[ -x "$sandbox" ] || { echo "record.sh: $sandbox not found or not executable" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/every-type.XXXXXX")
current=""
cleanup() {
    local rc=$?
    if [ -n "$current" ]; then
        "$sandbox" stop "$current" || true
    fi
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "record.sh: work directory kept: $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

client() {
    mariadb --no-defaults --default-character-set=utf8mb4 -h127.0.0.1 -P "$port" -uroot "$@"
}

# write_reference FILE: FILE.mariadb-binlog.txt (or .txt.gz when > 1 MiB).
write_reference() {
    local file=$1 base txt load="$work/mariadb-binlog-load"
    base=$(basename "$file")
    txt="$base.mariadb-binlog.txt"
    rm -rf "$load"
    mkdir -p "$load"
    rm -f "$here/$txt" "$here/$txt.gz"
    (cd "$here" && TZ=UTC LC_ALL=C mariadb-binlog --base64-output=decode-rows \
        --local-load="$load" -vv "$base" >"$txt")
    if [ "$(wc -c <"$here/$txt")" -gt 1048576 ]; then
        gzip -n -9 "$here/$txt"
        txt="$txt.gz"
    fi
    echo "record.sh: wrote $txt" >&2
}

record() {
    local name=$1 opts=$2 dir
    dir="$work/$name"
    echo "record.sh: === $name ($opts)" >&2
    rm -f "$here/$name".[0-9]*
    current="$dir"
    # shellcheck disable=SC2086 # $opts is a list of options on purpose
    "$sandbox" start "$dir" "$port" --log-bin="$dir/binlog/$name" "${common_opts[@]}" $opts

    client --batch <"$workload" >"$dir/workload.out"
    # Close the file(s) holding the workload; the new active file is not copied.
    client --batch --skip-column-names -e 'FLUSH BINARY LOGS' >/dev/null
    local logs
    logs=$(client --batch --skip-column-names -e 'SHOW BINARY LOGS' | awk '{print $1}')

    "$sandbox" stop "$dir"
    current=""

    local last f copied=()
    last=$(printf '%s\n' "$logs" | tail -n 1)
    for f in $logs; do
        [ "$f" = "$last" ] && continue
        cp "$dir/binlog/$f" "$here/$f"
        chmod 644 "$here/$f"
        copied+=("$f")
    done
    [ ${#copied[@]} -gt 0 ] || { echo "record.sh: no closed binlog for $name" >&2; exit 1; }

    for f in "${copied[@]}"; do
        write_reference "$here/$f"
        if [ -f "$census" ]; then
            local out
            out=$(python3 "$census" "$here/$f")
            if ! printf '%s\n' "$out" | grep -q 'bad 0)'; then
                printf '%s\n' "$out" >&2
                echo "record.sh: census reports bad checksums in $f" >&2
                exit 1
            fi
            printf '%s\n' "$out" | sed -n 's/^\(checksum\|events\):/  &/p' >&2
        fi
        echo "record.sh: wrote $f ($(wc -c <"$here/$f") bytes)" >&2
    done
}

selected=("$@")
for s in ${selected[@]+"${selected[@]}"}; do
    printf '%s\n' "${variants[@]}" | grep -q "^$s|" || { echo "record.sh: unknown variant '$s'" >&2; exit 2; }
done
for entry in "${variants[@]}"; do
    name=${entry%%|*}
    opts=${entry#*|}
    if [ ${#selected[@]} -gt 0 ]; then
        match=0
        for s in ${selected[@]+"${selected[@]}"}; do
            [ "$s" = "$name" ] && match=1
        done
        [ "$match" = 1 ] || continue
    fi
    record "$name" "$opts"
done
echo "record.sh: done" >&2
