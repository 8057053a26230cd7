-- Sessions are a projection of their events, kept in the same transaction as the events themselves.
CREATE TABLE sessions (
    -- Insertion order: "newest first" and the list cursor use it, so paging is stable while rows are added.
    id BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL UNIQUE,
    agent_id TEXT,
    -- The runtime that first reported the session; events from any other runtime are refused.
    runtime_id TEXT,
    status TEXT NOT NULL,
    pid BIGINT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    exit_code BIGINT,
    signal TEXT,
    -- Highest seq stored, and highest seq stored with no gap below it (what `acked` reports).
    last_seq BIGINT,
    acked_seq BIGINT,
    num_turns BIGINT,
    total_cost_usd DOUBLE PRECISION,
    -- Seq of the `result` message the turns, cost and result text came from: only a later one replaces them.
    result_seq BIGINT,
    model TEXT,
    result_text TEXT,
    error TEXT,
    cancel_requested_ms BIGINT,
    cancel_delivered_ms BIGINT
);
CREATE INDEX sessions_status_id ON sessions (status, id);
CREATE INDEX sessions_agent_id ON sessions (agent_id, id);
CREATE INDEX sessions_runtime_live ON sessions (runtime_id) WHERE status IN ('pending', 'running');

-- `data` is the JSON text exactly as the supervisor sent it (TEXT, not JSONB: JSONB would reorder keys and
-- refuses \u0000, and `logs -o jsonl` promises the SDK's messages unchanged).
CREATE TABLE events (
    session_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    ts TEXT NOT NULL,
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE runtimes (
    runtime_id TEXT PRIMARY KEY,
    version TEXT,
    last_seen_ms BIGINT NOT NULL
);
