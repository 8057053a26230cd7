#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests and benchmarks.
#
#   eval "$(scripts/pg.sh start)"   # initdb in a temp dir, a free port, trust auth on loopback;
#                                   # prints `export DATABASE_URL=…` (admin URL) and `export AGENTCTL_PG_DIR=…`
#   scripts/pg.sh stop              # stops the cluster of $AGENTCTL_PG_DIR and removes it
#   scripts/pg.sh restart [fast|immediate]
#
# PostgreSQL refuses to run as root: as root the cluster runs as the unprivileged user `nobody`
# (or $PG_USER), which owns the data directory.
set -euo pipefail

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
    echo "pg.sh: no PostgreSQL binaries found (set PG_BIN)" >&2
    exit 1
fi

as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        local user=${PG_USER:-nobody}
        setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cmd=${1:-}
case "$cmd" in
start)
    dir=$(mktemp -d /tmp/agentctl-pg.XXXXXX)
    chmod 755 "$dir"
    mkdir -p "$dir/data" "$dir/run"
    if [[ $(id -u) -eq 0 ]]; then chown -R "${PG_USER:-nobody}" "$dir"; fi
    port=$(free_port)
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/run'
max_connections = 300
shared_buffers = 128MB
fsync = on
synchronous_commit = on
logging_collector = off
CONF
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 start >/dev/null || {
        cat "$dir/postgres.log" >&2
        exit 1
    }
    echo "$port" >"$dir/port"
    echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
    echo "export AGENTCTL_PG_DIR=$dir"
    ;;
stop)
    dir=${AGENTCTL_PG_DIR:?pg.sh stop: AGENTCTL_PG_DIR is not set}
    if ! as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 300 stop >/dev/null 2>&1; then
        # pg_ctl gave up (a long shutdown checkpoint): stop the postmaster itself before removing its files.
        pid=$(head -n1 "$dir/data/postmaster.pid" 2>/dev/null || true)
        if [[ -n "$pid" ]]; then
            kill -INT "$pid" 2>/dev/null || true
            for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        fi
    fi
    rm -rf "$dir"
    ;;
restart)
    dir=${AGENTCTL_PG_DIR:?pg.sh restart: AGENTCTL_PG_DIR is not set}
    # Crash recovery (-m immediate) of a cluster with many test databases can take a while.
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -m "${2:-fast}" -w -t 300 restart >/dev/null
    ;;
*)
    echo "usage: scripts/pg.sh start|stop|restart [fast|immediate]" >&2
    exit 2
    ;;
esac
