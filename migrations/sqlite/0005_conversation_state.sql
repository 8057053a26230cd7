-- Conversation state (DESIGN §9, ARCHITECTURE.md "Conversations"): the pieces of the bundled CLI's session
-- files that a session's runner printed as `conversation.state` lines. The event log keeps only a marker per
-- piece; the content is here, sealed with the secrets key (ChaCha20-Poly1305, the session id and seq as
-- associated data) when the server has one (`sealed` = 1), so no tool output of a transcript is kept in
-- clear. A session's state is complete when its seqs run 0..N without a gap and N has `last` = 1; the next
-- turn of its conversation carries the latest earlier complete state.
CREATE TABLE conversation_state (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    path TEXT NOT NULL,
    encoding TEXT NOT NULL,
    sdk_session_id TEXT NOT NULL,
    config_dir TEXT NOT NULL,
    last INTEGER NOT NULL,
    sealed INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
