-- cardflow objects on Snowflake, applied by `cardflow bootstrap`.
--
-- Idempotent: every statement is CREATE ... IF NOT EXISTS, so re-running it on a live account is a
-- no-op; nothing here drops, replaces or truncates anything (the seed system's CREATE OR REPLACE
-- TABLE destroyed RAW history on every deploy). Changing an existing object (say a stage URL) is a
-- deliberate ALTER by a human, not a side effect of a deploy.
--
-- {placeholders} are replaced from settings by tasks.warehouse.render_sql; identifiers are validated
-- (letters, digits, _ and $), the stage URL and role ARN by pattern, so nothing else can be injected.
-- No credentials appear here: the stage reaches S3 through a storage integration (an IAM role).

-- compute: smallest size, suspends after 60 s idle, resumes on the next query
CREATE WAREHOUSE IF NOT EXISTS {warehouse}
    WAREHOUSE_SIZE = 'XSMALL'
    AUTO_SUSPEND = 60
    AUTO_RESUME = TRUE
    INITIALLY_SUSPENDED = TRUE;

CREATE DATABASE IF NOT EXISTS {database};

CREATE SCHEMA IF NOT EXISTS {database}.{raw};

CREATE SCHEMA IF NOT EXISTS {database}.{silver};

CREATE SCHEMA IF NOT EXISTS {database}.{gold};

-- S3 access by role, not keys. Needs ACCOUNTADMIN (or CREATE INTEGRATION); skipped by bootstrap when
-- SNOWFLAKE_STORAGE_AWS_ROLE_ARN is unset (an admin created the integration out of band).
CREATE STORAGE INTEGRATION IF NOT EXISTS {integration}
    TYPE = EXTERNAL_STAGE
    STORAGE_PROVIDER = 'S3'
    ENABLED = TRUE
    STORAGE_AWS_ROLE_ARN = '{aws_role_arn}'
    STORAGE_ALLOWED_LOCATIONS = ('{stage_url}');

-- Bronze objects are gzip NDJSON, one canonical record per line
CREATE FILE FORMAT IF NOT EXISTS {database}.{raw}.{file_format}
    TYPE = JSON
    COMPRESSION = GZIP
    STRIP_OUTER_ARRAY = FALSE;

-- the Bronze prefix (S3_PREFIX) of the lake; COPY INTO names files relative to it
CREATE STAGE IF NOT EXISTS {database}.{raw}.{stage}
    URL = '{stage_url}'
    STORAGE_INTEGRATION = {integration}
    FILE_FORMAT = (FORMAT_NAME = '{database}.{raw}.{file_format}');

-- one row per Bronze record, as landed; typing and dedupe happen in dbt Silver.
-- Clustered by event type and event date: Silver's incremental dedupe on EVENT_ID and every
-- date-bounded query (freshness, volume checks, replays) prune to the micro-partitions they need.
CREATE TABLE IF NOT EXISTS {database}.{raw}.EVENTS (
    EVENT_ID        VARCHAR       NOT NULL,
    SOURCE          VARCHAR       NOT NULL,
    EVENT_TYPE      VARCHAR       NOT NULL,
    PAYLOAD         VARIANT,
    INSERTED_AT     TIMESTAMP_TZ  NOT NULL,
    INGESTED_AT     TIMESTAMP_TZ  NOT NULL,
    FILE_NAME       VARCHAR       NOT NULL,
    FILE_ROW_NUMBER NUMBER(18, 0) NOT NULL,
    LOADED_AT       TIMESTAMP_TZ  NOT NULL DEFAULT CURRENT_TIMESTAMP()
)
CLUSTER BY (EVENT_TYPE, TO_DATE(INSERTED_AT));
