-- A batch of Bronze files as RAW.EVENTS rows (cardflow.warehouse.duckdb), in ONE multi-file read.
-- DuckDB parses the gzip NDJSON itself with explicit columns: a missing field is NULL and fails the
-- NOT NULL constraint, a bad line or a truncated gzip stream fails the statement, so nothing is
-- skipped quietly. The payload stays JSON (dbt types it in Silver).
--
-- One read_ndjson over the batch's list reads its files in parallel (one gzip stream per thread);
-- a UNION ALL of one read per file ran them one after another. The file's line number still
-- comes out exact: a single-table FROM keeps the original row order (files in list order, lines in
-- file order) and row_number() OVER () turns that order into a number, so a line's number in its
-- file is its number in the batch minus the number of the file's first line, plus one.
--
-- {paths}: the files as DuckDB reads them; {names}: their Bronze keys, position for position.
SELECT r.event_id, r.source, r.event_type, r.payload, r.inserted_at, r.ingested_at,
       f.file_name,
       r.batch_row - min(r.batch_row) OVER (PARTITION BY r.filename) + 1 AS file_row_number,
       {loaded_at} AS loaded_at
FROM (
    SELECT *, row_number() OVER () AS batch_row
    FROM read_ndjson(
        {paths},
        columns = {{'event_id': 'VARCHAR', 'source': 'VARCHAR', 'event_type': 'VARCHAR', 'payload': 'JSON',
                   'inserted_at': 'TIMESTAMPTZ', 'ingested_at': 'TIMESTAMPTZ'}},
        compression = 'gzip', filename = true, hive_partitioning = false, maximum_object_size = 16777216
    )
) AS r
JOIN (SELECT unnest({paths}) AS path, unnest({names}) AS file_name) AS f ON r.filename = f.path
