-- One Bronze file as RAW.EVENTS rows (tasks.warehouse_duckdb); a load batch is a UNION ALL of these.
-- DuckDB parses the gzip NDJSON itself with explicit columns: a missing field is NULL and fails the
-- NOT NULL constraint, a bad line or a truncated gzip stream fails the statement, so nothing is
-- skipped quietly. The payload stays JSON (dbt types it in Silver). WITH ORDINALITY numbers the
-- lines of this one file from 1 (a gzip file is read by one thread, in order).
SELECT event_id, source, event_type, payload, inserted_at, ingested_at,
       {file_name} AS file_name, ordinality AS file_row_number, {loaded_at} AS loaded_at
FROM read_ndjson(
    {path},
    columns = {{'event_id': 'VARCHAR', 'source': 'VARCHAR', 'event_type': 'VARCHAR', 'payload': 'JSON',
               'inserted_at': 'TIMESTAMPTZ', 'ingested_at': 'TIMESTAMPTZ'}},
    compression = 'gzip', hive_partitioning = false, maximum_object_size = 16777216
) WITH ORDINALITY
