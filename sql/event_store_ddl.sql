-- The Postgres event store (source of truth for replay). Idempotent (IF NOT EXISTS), never drops.
-- Applied by `cardflow bootstrap --event-store` (and by `cardflow generate` / the demo) or by a DBA:
-- the backfill only reads and never runs it. It needs the (inserted_at, event_id) index for its keyset chunks.
-- {table} is replaced by the validated CARDFLOW_EVENTS_TABLE identifier.
CREATE TABLE IF NOT EXISTS {table} (
    event_id    uuid        PRIMARY KEY,
    source      text        NOT NULL,
    event_type  text        NOT NULL,
    payload     jsonb       NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {table}_inserted_at_event_id_idx ON {table} (inserted_at, event_id);
