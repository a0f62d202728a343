-- The load cursor (cardflow.warehouse.manifest_log): one row per Bronze manifest the load handled.
-- {table} is the schema-qualified LOADED_MANIFESTS table, {keys} a list of quoted literals,
-- {rows} rendered VALUES tuples; everything substituted is validated or quoted by the caller.

-- name: duckdb_create
CREATE TABLE IF NOT EXISTS {table} (
    manifest_key VARCHAR     PRIMARY KEY,
    origin       VARCHAR     NOT NULL,
    status       VARCHAR     NOT NULL,
    files        BIGINT      NOT NULL,
    row_count    BIGINT      NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- name: snowflake_create
CREATE TABLE IF NOT EXISTS {table} (
    MANIFEST_KEY VARCHAR       NOT NULL PRIMARY KEY,
    ORIGIN       VARCHAR       NOT NULL,
    STATUS       VARCHAR       NOT NULL,
    FILES        NUMBER(18, 0) NOT NULL,
    ROW_COUNT    NUMBER(18, 0) NOT NULL,
    RECORDED_AT  TIMESTAMP_TZ  NOT NULL DEFAULT CURRENT_TIMESTAMP()
);

-- name: cursors
-- per origin: where the next listing starts. The oldest manifest that failed (it is retried), else
-- the newest one loaded.
SELECT origin,
       coalesce(min(CASE WHEN status = 'failed' THEN manifest_key END), max(manifest_key)) AS cursor_key
FROM {table}
GROUP BY origin;

-- name: loaded_among
SELECT manifest_key FROM {table} WHERE status = 'loaded' AND manifest_key IN ({keys});

-- name: forget
DELETE FROM {table} WHERE manifest_key IN ({keys});

-- name: record
INSERT INTO {table} (manifest_key, origin, status, files, row_count) VALUES {rows};
