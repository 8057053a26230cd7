-- What a runtime reports in its heartbeats for pull dispatch (DESIGN.md §9): its `--label k=v` flags (a JSON
-- object as text), its capacity (`--max-sessions`) and whether it is `active` or `draining`. `lost` is never
-- stored: `GET /api/v1/runtimes` derives it from `last_seen_ms` and `--heartbeat-timeout`.
ALTER TABLE runtimes ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
ALTER TABLE runtimes ADD COLUMN capacity INTEGER;
ALTER TABLE runtimes ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
