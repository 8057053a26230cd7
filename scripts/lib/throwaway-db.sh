# Sourced by the scripts that need a PostgreSQL database of their own (scale.sh, bench-dispatch.sh,
# bench-hooks.sh, bench-ui.sh). `throwaway_db NAME` uses DATABASE_URL as the admin URL when it is set, otherwise
# starts a throwaway cluster with scripts/pg.sh (its AGENTCTL_PG_DIR exported); creates the database
# NAME_<pid>, sets DB_URL to it, and drops it (and stops the cluster it started) on exit. Run from the repo root.

throwaway_db_cleanup() {
    if [[ -n "${THROWAWAY_DB:-}" ]]; then
        psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $THROWAWAY_DB" >/dev/null 2>&1 || true
    fi
    if [[ -n "${THROWAWAY_PG_STARTED:-}" ]]; then scripts/pg.sh stop; fi
}

throwaway_db() {
    trap throwaway_db_cleanup EXIT
    if [[ -z "${DATABASE_URL:-}" ]]; then
        eval "$(scripts/pg.sh start)"
        THROWAWAY_PG_STARTED=1
    fi
    THROWAWAY_DB="$1_$$"
    psql -q "$DATABASE_URL" -c "CREATE DATABASE $THROWAWAY_DB" >/dev/null
    DB_URL="${DATABASE_URL%/*}/$THROWAWAY_DB"
}
