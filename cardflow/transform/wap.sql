-- Write-audit-publish statements (tasks/wap.py). {audit} and {published} are validated,
-- schema-qualified table names; one block per "-- name:" header.

-- name: duckdb_create_schema
CREATE SCHEMA IF NOT EXISTS {schema};

-- name: duckdb_clone_to_audit
-- the audit build starts from the published state (incremental models extend it)
CREATE OR REPLACE TABLE {audit} AS SELECT * FROM {published};

-- name: duckdb_drop_audit
DROP TABLE IF EXISTS {audit};

-- name: duckdb_publish
-- run for every model of a layer inside ONE transaction: all tables switch or none do
CREATE OR REPLACE TABLE {published} AS SELECT * FROM {audit};

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
