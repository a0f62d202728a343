-- What a published Silver+Gold build was built from (cardflow/transform/build_stamp.py). {table} is
-- the schema-qualified PUBLISHED_BUILDS table beside RAW.EVENTS, {raw} RAW.EVENTS, {held} the
-- holds table or NULL; every name is validated by the caller, every value quoted by it.

-- name: create_schema
CREATE SCHEMA IF NOT EXISTS {schema};

-- name: duckdb_create
CREATE TABLE IF NOT EXISTS {table} (
    published_at         TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    raw_rows             BIGINT      NOT NULL,
    raw_newest_loaded_at TIMESTAMPTZ,
    held_events          BIGINT      NOT NULL,
    fingerprint          VARCHAR     NOT NULL
);

-- name: snowflake_create
CREATE TABLE IF NOT EXISTS {table} (
    PUBLISHED_AT         TIMESTAMP_TZ  NOT NULL DEFAULT CURRENT_TIMESTAMP(),
    RAW_ROWS             NUMBER(18, 0) NOT NULL,
    RAW_NEWEST_LOADED_AT TIMESTAMP_TZ,
    HELD_EVENTS          NUMBER(18, 0) NOT NULL,
    FINGERPRINT          VARCHAR       NOT NULL
);

-- name: raw_snapshot
-- two aggregates both engines answer from table metadata (row count, column max)
SELECT count(*), max(loaded_at) FROM {raw};

-- name: held_count
SELECT count(*) FROM {held};

-- name: latest
SELECT raw_rows, raw_newest_loaded_at, held_events, fingerprint
FROM {table}
ORDER BY published_at DESC
LIMIT 1;

-- name: record
INSERT INTO {table} (raw_rows, raw_newest_loaded_at, held_events, fingerprint)
VALUES ({raw_rows}, {raw_newest_loaded_at}, {held_events}, {fingerprint});
