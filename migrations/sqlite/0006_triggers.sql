-- Triggers (DESIGN §10): inbound requests that become sessions of one agent. Flags are 0/1 INTEGERs, as on
-- PostgreSQL (BIGINT there), so both backends bind the same values.

-- One row per trigger: its definition as JSON without secrets or credentials.
CREATE TABLE triggers (
    trigger_id TEXT PRIMARY KEY,
    agent_id TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Its write-only values, sealed like agent secrets (ChaCha20-Poly1305, `trigger:<id>` and the name as
-- associated data). Names: `verify.secrets.<index>` and `reply.credentials.<name>`.
CREATE TABLE trigger_secrets (
    trigger_id TEXT NOT NULL,
    name TEXT NOT NULL,
    sealed TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (trigger_id, name)
);

-- Every inbound request to /hooks/{id}, in arrival order (`id`, the list's cursor), refused ones included
-- (without their body). `dedupe_key` is the provider's id on the first accepted delivery of that id and NULL on
-- every other row, so the unique index makes a redelivery a recorded duplicate, for good. `status`: refused |
-- invalid | disabled | duplicate | waiting (debounced, not yet a session) | queued (`session_id` set).
-- `context` is the normalised event the prompt was rendered from, `prompt` the rendered prompt.
CREATE TABLE trigger_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL UNIQUE,
    trigger_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    provider_id TEXT,
    dedupe_key TEXT,
    verified INTEGER NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    conversation_key TEXT,
    context TEXT,
    prompt TEXT,
    auto_submitted INTEGER NOT NULL DEFAULT 0,
    session_id TEXT
);
CREATE UNIQUE INDEX trigger_deliveries_dedupe ON trigger_deliveries (trigger_id, dedupe_key);
CREATE INDEX trigger_deliveries_trigger ON trigger_deliveries (trigger_id, id);
CREATE INDEX trigger_deliveries_waiting ON trigger_deliveries (trigger_id, conversation_key, id)
    WHERE status = 'waiting';
CREATE INDEX trigger_deliveries_session ON trigger_deliveries (session_id);

-- A delivery's attachments (base64), written with it; they become files of its session's workspace.
CREATE TABLE trigger_attachments (
    delivery_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    path TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (delivery_id, idx)
);

-- Conversation keys of a trigger → the §9 conversation they continue: a template's key, `sms:<to>:<from>`,
-- and `msg:<Message-ID>` for every mail of a thread, inbound and our replies alike.
CREATE TABLE trigger_conversations (
    trigger_id TEXT NOT NULL,
    conversation_key TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (trigger_id, conversation_key)
);

-- The answer owed for a session of a trigger with `reply`: `pending` until the session is final, then `sent`,
-- `failed` (out of attempts, or refused by the provider) or `skipped` (the session did not succeed, or nothing
-- to answer). `delivery_id`: the delivery answered (the last of a debounced burst).
CREATE TABLE trigger_replies (
    session_id TEXT PRIMARY KEY,
    trigger_id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    sent_at TEXT,
    message_id TEXT
);
CREATE INDEX trigger_replies_pending ON trigger_replies (next_ms) WHERE status = 'pending';
