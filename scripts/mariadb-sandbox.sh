#!/usr/bin/env bash
# mariadb-sandbox.sh - start/stop a throwaway MariaDB server in a directory.
#
# Usage:
#   mariadb-sandbox.sh start DIR PORT [extra mariadbd options...]
#   mariadb-sandbox.sh stop  DIR
#   mariadb-sandbox.sh status DIR
#
# start: initialises DIR/data (root@localhost and root@127.0.0.1 without a
#        password), then starts mariadbd in the background with row-based
#        binary logging into DIR/binlog/mariadb-bin.NNNNNN, listening on
#        127.0.0.1:PORT and DIR/mysqld.sock, and waits until
#        `mariadb -h127.0.0.1 -P PORT -uroot` answers (timeout 60 s; set
#        SANDBOX_START_TIMEOUT to change it). The data directory is reused if it
#        already exists. Refuses to start if DIR already has a running server.
# stop:  `mariadb-admin shutdown` over the socket, then waits for the process to
#        exit (SIGKILL after 30 s; SANDBOX_STOP_TIMEOUT). A missing DIR, pid file
#        or server is not an error, so it is safe in cleanup traps.
# status: exit 0 if DIR has a running server, 1 otherwise.
#
# No option files are read (--no-defaults everywhere), so the system MariaDB
# configuration and service are never touched. Connect with:
#   mariadb --no-defaults -h127.0.0.1 -P PORT -uroot
#   mariadb --no-defaults -S DIR/mysqld.sock -uroot
set -euo pipefail

prog=$(basename "$0")

die() {
    echo "$prog: $*" >&2
    exit 1
}

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

# Locate a tool by its MariaDB name, falling back to the MySQL-compatible alias.
find_tool() {
    local name
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    # mariadbd usually lives in /usr/sbin, which may not be on PATH.
    for name in "$@"; do
        if [ -x "/usr/sbin/$name" ]; then
            echo "/usr/sbin/$name"
            return 0
        fi
    done
    die "none of [$*] found on PATH"
}

# pid_alive PID: true if the process exists (and is not a zombie).
pid_alive() {
    local pid=$1 state
    [ -n "$pid" ] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [ -r "/proc/$pid/stat" ]; then
        state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$pid/stat" 2>/dev/null || echo '?')
        [ "$state" != "Z" ] || return 1
    fi
    return 0
}

# running_pid DIR: print the pid of the server running in DIR, if any.
running_pid() {
    local dir=$1 pid
    [ -f "$dir/mysqld.pid" ] || return 1
    pid=$(tr -dc '0-9' <"$dir/mysqld.pid")
    pid_alive "$pid" || return 1
    # Make sure the pid still belongs to a mariadbd (pids get reused).
    if [ -r "/proc/$pid/cmdline" ]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--datadir=$dir/data" || return 1
    fi
    echo "$pid"
}

abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd -P)
}

cmd_start() {
    [ $# -ge 2 ] || usage
    local dir port
    dir=$(abs_dir "$1")
    port=$2
    shift 2
    case "$port" in
        '' | *[!0-9]*) die "PORT must be a number, got '$port'" ;;
    esac

    local mariadbd install_db client
    mariadbd=$(find_tool mariadbd mysqld)
    install_db=$(find_tool mariadb-install-db mysql_install_db)
    client=$(find_tool mariadb mysql)

    local pid
    if pid=$(running_pid "$dir"); then
        die "a server is already running in $dir (pid $pid); run '$prog stop $dir' first"
    fi
    # The socket path must fit in sockaddr_un.sun_path (108 bytes on Linux).
    if [ ${#dir} -gt 90 ]; then
        die "DIR path is too long for a unix socket ($dir)"
    fi
    # Someone else (maybe another sandbox) already listening on the port?
    if "$client" --no-defaults --connect-timeout=2 -h127.0.0.1 -P "$port" -uroot \
        -e 'select 1' >/dev/null 2>&1; then
        die "something already answers on 127.0.0.1:$port"
    fi

    local user_opt=()
    if [ "$(id -u)" -eq 0 ]; then
        # mariadbd refuses to run as root unless told so explicitly.
        user_opt=(--user=root)
    fi

    mkdir -p "$dir/binlog" "$dir/tmp"
    rm -f "$dir/mysqld.sock" "$dir/mysqld.sock.lock" "$dir/mysqld.pid"

    if [ ! -d "$dir/data/mysql" ]; then
        rm -rf "$dir/data"
        echo "$prog: initialising $dir/data" >&2
        # --tmpdir (passed on to the bootstrapping mariadbd): its temporary tables in the
        # sandbox, not in the /tmp that other servers and tests share.
        if ! "$install_db" --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" \
            --auth-root-authentication-method=normal --skip-test-db \
            --skip-name-resolve ${user_opt[@]+"${user_opt[@]}"} \
            >"$dir/install-db.log" 2>&1; then
            cat "$dir/install-db.log" >&2
            die "mariadb-install-db failed"
        fi
    fi

    : >"$dir/error.log"
    echo "$prog: starting mariadbd on 127.0.0.1:$port in $dir" >&2
    # setsid + nohup: the server must not die with the caller's terminal or
    # process group (e.g. a CI step runner). `setsid -w` keeps $! alive exactly
    # as long as mariadbd, whether or not setsid had to fork.
    local launcher=(nohup)
    if command -v setsid >/dev/null 2>&1; then
        launcher=(setsid -w nohup)
    fi
    "${launcher[@]}" "$mariadbd" --no-defaults \
        --datadir="$dir/data" \
        --tmpdir="$dir/tmp" \
        --socket="$dir/mysqld.sock" \
        --port="$port" \
        --bind-address=127.0.0.1 \
        --skip-name-resolve \
        --pid-file="$dir/mysqld.pid" \
        --log-error="$dir/error.log" \
        --server-id=1 \
        --log-bin="$dir/binlog/mariadb-bin" \
        --binlog-format=ROW \
        --binlog-checksum=CRC32 \
        --gtid-strict-mode=ON \
        ${user_opt[@]+"${user_opt[@]}"} \
        "$@" \
        </dev/null >>"$dir/error.log" 2>&1 &
    local spawned=$!
    echo "$spawned" >"$dir/mysqld.spawned-pid"

    local timeout=${SANDBOX_START_TIMEOUT:-60} waited=0
    while :; do
        if "$client" --no-defaults --connect-timeout=2 -h127.0.0.1 -P "$port" -uroot \
            -e 'select 1' >/dev/null 2>&1; then
            break
        fi
        if ! pid_alive "$spawned"; then
            echo "$prog: mariadbd exited during startup; error log follows" >&2
            cat "$dir/error.log" >&2
            exit 1
        fi
        if [ "$waited" -ge $((timeout * 2)) ]; then
            echo "$prog: server did not answer within ${timeout}s; error log follows" >&2
            cat "$dir/error.log" >&2
            local victim
            if victim=$(running_pid "$dir"); then
                kill -9 "$victim" 2>/dev/null || true
            fi
            if command -v pkill >/dev/null 2>&1; then
                pkill -9 -P "$spawned" 2>/dev/null || true
            fi
            kill -9 "$spawned" 2>/dev/null || true
            exit 1
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    echo "$prog: ready: mariadb --no-defaults -h127.0.0.1 -P $port -uroot (pid $spawned)" >&2
}

cmd_stop() {
    [ $# -eq 1 ] || usage
    local dir pid admin
    if [ ! -d "$1" ]; then
        echo "$prog: no such directory: $1 (nothing to stop)" >&2
        return 0
    fi
    dir=$(cd "$1" && pwd -P)
    admin=$(find_tool mariadb-admin mysqladmin)

    if ! pid=$(running_pid "$dir"); then
        # The pid file may not exist yet if startup failed early.
        pid=""
        if [ -f "$dir/mysqld.spawned-pid" ]; then
            pid=$(tr -dc '0-9' <"$dir/mysqld.spawned-pid")
            pid_alive "$pid" || pid=""
        fi
        if [ -z "$pid" ]; then
            echo "$prog: no server running in $dir" >&2
            rm -f "$dir/mysqld.spawned-pid"
            return 0
        fi
    fi

    echo "$prog: stopping server in $dir (pid $pid)" >&2
    "$admin" --no-defaults --socket="$dir/mysqld.sock" -uroot --connect-timeout=5 \
        shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true

    local timeout=${SANDBOX_STOP_TIMEOUT:-30} waited=0
    while pid_alive "$pid"; do
        if [ "$waited" -ge $((timeout * 2)) ]; then
            echo "$prog: server did not exit within ${timeout}s, sending SIGKILL" >&2
            kill -9 "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
    rm -f "$dir/mysqld.spawned-pid"
    echo "$prog: stopped" >&2
}

cmd_status() {
    [ $# -eq 1 ] || usage
    local dir pid
    [ -d "$1" ] || exit 1
    dir=$(cd "$1" && pwd -P)
    if pid=$(running_pid "$dir"); then
        echo "running (pid $pid)"
    else
        echo "not running"
        exit 1
    fi
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
esac
