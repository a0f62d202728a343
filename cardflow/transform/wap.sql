-- Write-audit-publish statements (cardflow/transform/wap.py). {audit} and {published} are validated,
-- schema-qualified table names; {layer} is silver or gold; one block per "-- name:" header.

-- name: duckdb_create_schema
CREATE SCHEMA IF NOT EXISTS {schema};

-- name: duckdb_state_create
-- which audit slot each layer's published views point at (live) and which one a build has
-- started in and not yet published (building: a failed gate leaves it set)
CREATE TABLE IF NOT EXISTS main.cardflow_wap_state (
    layer         VARCHAR PRIMARY KEY,
    live_slot     VARCHAR,
    building_slot VARCHAR
);

-- name: duckdb_state_get
SELECT live_slot, building_slot FROM main.cardflow_wap_state WHERE layer = '{layer}';

-- name: duckdb_state_forget
DELETE FROM main.cardflow_wap_state WHERE layer = '{layer}';

-- name: duckdb_state_set
INSERT INTO main.cardflow_wap_state VALUES ('{layer}', {live}, {building});

-- name: duckdb_resync_audit
-- only after a build that was never published: the slot starts again from what analysts see
CREATE OR REPLACE TABLE {audit} AS SELECT * FROM {published};

-- name: duckdb_drop_audit
DROP TABLE IF EXISTS {audit};

-- name: duckdb_drop_published_table
-- a published name that is still a table (before views over slots): replaced by the view
DROP TABLE IF EXISTS {published};

-- name: duckdb_publish_view
-- run for every model of the published layers inside ONE transaction: all switch or none do
CREATE OR REPLACE VIEW {published} AS SELECT * FROM {audit};

-- name: snowflake_create_schema
CREATE SCHEMA IF NOT EXISTS {schema};

-- name: snowflake_clone_to_audit
-- zero-copy clone: the audit build starts from the published state (audit dropped just before)
CREATE TABLE {audit} CLONE {published};

-- name: snowflake_drop_audit
DROP TABLE IF EXISTS {audit};

-- name: snowflake_publish_swap
-- atomic metadata swap; afterwards the audit name holds the previous version
ALTER TABLE {audit} SWAP WITH {published};

-- name: snowflake_publish_rename
-- first publish of a model: nothing to swap with
ALTER TABLE {audit} RENAME TO {published};

-- name: snowflake_drop_published
-- CARDFLOW_SNOWFLAKE_PUBLISH_MODE=clone only (stand-ins without SWAP): not atomic, never production
DROP TABLE IF EXISTS {published};

-- name: snowflake_publish_clone
CREATE TABLE {published} CLONE {audit};

-- name: duckdb_table_comment
-- the table comment dbt's Silver post-hook records (how far into RAW the build looked:
-- dbt/macros/examined_through.sql); a copy of a table must carry it or lose it, never keep a stale one
SELECT comment FROM duckdb_tables()
WHERE database_name = current_database() AND lower(schema_name) = lower({schema}) AND lower(table_name) = lower({table});

-- name: duckdb_set_comment
COMMENT ON TABLE {target} IS {comment};

-- name: snowflake_table_comment
SELECT comment FROM {database}.information_schema.tables
WHERE upper(table_schema) = upper({schema}) AND upper(table_name) = upper({table});

-- name: snowflake_set_comment
COMMENT ON TABLE {target} IS {comment};
