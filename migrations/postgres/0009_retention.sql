-- `agentctl serve --retention` (ARCHITECTURE.md "Retention"): the sweep walks finished sessions oldest first,
-- (finished_at, id) as its cursor, so each batch is one index range scan however many sessions there are.
CREATE INDEX sessions_finished ON sessions (finished_at, id) WHERE finished_at IS NOT NULL;
