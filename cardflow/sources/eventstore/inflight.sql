-- In-flight write transactions on the event store's database (cardflow.sources.eventstore.inflight).
-- Run in the backfill's read-only planning session; pg_backend_pid() is that session itself.

-- name: inflight_writers
-- A writer is another session of this database whose transaction holds an xid (it has written).
-- oldest_writer_start: the oldest xact_start among writers this role may see; a transaction's
--   default now() is its xact_start, so none of its rows can carry an inserted_at below it.
-- hidden_writers: writers whose xact_start this role may not see (another user's session and no
--   pg_read_all_stats: backend_xid is shown to every role, xact_start is not).
-- in_recovery: a hot standby, whose pg_stat_activity does not list the primary's writers.
SELECT
    min(xact_start) AS oldest_writer_start,
    count(*) FILTER (WHERE xact_start IS NULL) AS hidden_writers,
    pg_is_in_recovery() AS in_recovery
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL;
