-- The event store's own jsonb text of a few rows' payloads, by their keyset keys: what the
-- contract judges for a line whose compacted payload (sql/backfill_chunk.sql) may have altered a
-- string. Uses the (inserted_at, event_id) index.
--
-- {table} is the validated CARDFLOW_EVENTS_TABLE identifier.
SELECT e.event_id::text, e.payload::text
FROM {table} AS e
JOIN unnest(%(inserted_at)s::timestamptz[], %(event_id)s::uuid[]) AS k (inserted_at, event_id)
    ON e.inserted_at = k.inserted_at AND e.event_id = k.event_id
