-- Signed-in browsers of the web UI (DESIGN §11). `id_digest` is the SHA-256 (hex) of the cookie's value, so a
-- copy of the database signs nobody in; `token_digest` is the API token's digest it was signed in with, checked
-- against the accepted tokens on every request (a token taken away signs its browsers out); `csrf` is the
-- token every form of that browser carries.
CREATE TABLE ui_sessions (
    id_digest TEXT PRIMARY KEY,
    token_digest TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_ms);
