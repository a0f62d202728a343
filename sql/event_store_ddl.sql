-- The Postgres event store (source of truth for replay). Idempotent: safe to run on every start.
-- {table} is replaced by the validated CARDFLOW_EVENTS_TABLE identifier.
CREATE TABLE IF NOT EXISTS {table} (
    event_id    uuid        PRIMARY KEY,
    source      text        NOT NULL,
    event_type  text        NOT NULL,
    payload     jsonb       NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {table}_inserted_at_event_id_idx ON {table} (inserted_at, event_id);
