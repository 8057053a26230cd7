-- Credentials `agentctl serve` generated because none of that kind was configured, kept so that a restart
-- accepts what supervisors and people were given. Only the SHA-256 digest (hex) is stored: the value itself is
-- printed once, by the start that generated it. One row per kind: replicas starting together race on the
-- primary key, and the losers use the winner's.
CREATE TABLE generated_credentials (
    -- 'internal_key' or 'api_token'.
    kind TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL
);
