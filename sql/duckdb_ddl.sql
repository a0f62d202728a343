-- DuckDB equivalent of snowflake_ddl.sql for the embedded warehouse. Idempotent, never drops data.
-- {raw} is replaced by the validated SNOWFLAKE_RAW_SCHEMA identifier (RAW by default).
CREATE SCHEMA IF NOT EXISTS {raw};

CREATE TABLE IF NOT EXISTS {raw}.events (
    event_id        VARCHAR     NOT NULL,
    source          VARCHAR     NOT NULL,
    event_type      VARCHAR     NOT NULL,
    payload         JSON,
    inserted_at     TIMESTAMPTZ NOT NULL,
    ingested_at     TIMESTAMPTZ NOT NULL,
    file_name       VARCHAR     NOT NULL,
    file_row_number BIGINT      NOT NULL,
    loaded_at       TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

-- one row per Bronze file loaded; written in the same transaction as the file's rows
CREATE TABLE IF NOT EXISTS {raw}.load_history (
    file_name  VARCHAR     PRIMARY KEY,
    sha256     VARCHAR     NOT NULL,
    row_count  BIGINT      NOT NULL,
    loaded_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
