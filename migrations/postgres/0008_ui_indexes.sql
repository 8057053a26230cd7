-- The web UI's sessions list (DESIGN §11): every filter combination is one index scan, newest first, so a page
-- of 50 costs the same over 100,000 sessions. `status` alone and `agent_id` alone already have (status, id)
-- and (agent_id, id) from 0001; "errors only" (failed, timed_out or lost) and an agent with a status did not.
CREATE INDEX sessions_errors ON sessions (id) WHERE status IN ('failed', 'timed_out', 'lost');
CREATE INDEX sessions_agent_errors ON sessions (agent_id, id) WHERE status IN ('failed', 'timed_out', 'lost');
CREATE INDEX sessions_agent_status ON sessions (agent_id, status, id);
