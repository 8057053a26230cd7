-- Agent definitions (DESIGN §9). `agents` is one row per id: its latest version, and `deleted_at` once
-- deleted (its versions and sessions stay readable, no new session is queued). A PUT after a delete makes the
-- next version, so a session's `agent_version` names one definition for ever.
CREATE TABLE agents (
    agent_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);

-- Immutable versions 1, 2, …: the definition as JSON without its secrets.
CREATE TABLE agent_versions (
    agent_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (agent_id, version)
);

-- The secrets of each version, sealed (ChaCha20-Poly1305, the agent id and name as associated data): base64
-- of nonce, ciphertext and tag. No value is ever stored in clear. `updated_at`: when the value was set.
CREATE TABLE agent_secrets (
    agent_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    sealed TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (agent_id, version, name)
);

-- Sessions of an agent: their conversation and the version they run (NULL for POST /execute sessions).
ALTER TABLE sessions ADD COLUMN conversation_id TEXT;
ALTER TABLE sessions ADD COLUMN agent_version INTEGER;
CREATE INDEX sessions_conversation ON sessions (conversation_id, id);
CREATE INDEX sessions_queued ON sessions (id) WHERE status = 'queued';

-- What a queued session needs until it runs: the request as given (compared on a retry, used for the
-- job), the selector of its version, and the claim's lease (attempts so far, when the current one expires).
CREATE TABLE session_jobs (
    session_id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    agent_version INTEGER NOT NULL,
    request TEXT NOT NULL,
    selector TEXT NOT NULL,
    queued_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_expires_ms INTEGER,
    claimed_ms INTEGER
);
CREATE INDEX session_jobs_lease ON session_jobs (lease_expires_ms) WHERE lease_expires_ms IS NOT NULL;
