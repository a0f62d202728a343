-- Load named Bronze files from the stage into RAW.EVENTS (tasks.warehouse_snowflake).
--
-- FILES lists stage-relative paths (at most 1000 per statement). Snowflake's own load history
-- (64 days per table) skips files already loaded, so a re-run loads nothing; the force placeholder is FORCE = TRUE
-- only for `cardflow replay`, which deletes the files' rows in the same transaction first.
-- ON_ERROR = ABORT_STATEMENT: a statement loads all its files or none, never part of a file; the
-- caller then retries the files in halves to name the bad ones and load the rest.
COPY INTO {database}.{raw}.EVENTS
    (EVENT_ID, SOURCE, EVENT_TYPE, PAYLOAD, INSERTED_AT, INGESTED_AT, FILE_NAME, FILE_ROW_NUMBER)
FROM (
    SELECT
        $1:event_id::VARCHAR,
        $1:source::VARCHAR,
        $1:event_type::VARCHAR,
        $1:payload,
        $1:inserted_at::TIMESTAMP_TZ,
        $1:ingested_at::TIMESTAMP_TZ,
        METADATA$FILENAME,
        METADATA$FILE_ROW_NUMBER
    FROM @{database}.{raw}.{stage}
)
FILES = ({files})
FILE_FORMAT = (FORMAT_NAME = '{database}.{raw}.{file_format}')
ON_ERROR = ABORT_STATEMENT{force}
