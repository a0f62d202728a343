-- One backfill chunk: the event store rows in the keyset range (lo, hi] on (inserted_at, event_id),
-- one result row per hourly Bronze partition (source, event_type, UTC hour), in key order.
--
-- {table} is the validated CARDFLOW_EVENTS_TABLE identifier; {fast_check} is composed by
-- tasks/extract.py from cardflow.contract.PAYLOAD_FIELDS: one jsonpath predicate per event type,
-- a conservative first check of the contract (the text-level checks that finish it run on the
-- whole group in tasks/partitions.py).
--
-- Each row becomes one NDJSON line with the Bronze record's fields in canonical order. Rows the
-- SQL check accepts are rendered canonically (timestamps as format_timestamp prints them);
-- the others are prefixed with '?' and carry their raw values, for validate_envelope in Python.
-- The payload is jsonb's own text (": " and ", " between tokens); Python compacts it.
SELECT
    source,
    event_type,
    hour,
    count(*) AS rows_read,
    string_agg(
        CASE WHEN ok THEN
            '{{"event_id":"' || event_id::text || '","source":"' || source || '","event_type":"' || event_type
            || '","payload":' || payload::text
            || ',"inserted_at":"' || to_char(inserted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
            || '+00:00","ingested_at":"' || %(ingested_at)s || E'"}}\n'
        ELSE
            '?{{"event_id":"' || event_id::text
            || '","source":' || coalesce(to_json(source)::text, 'null')
            || ',"event_type":' || coalesce(to_json(event_type)::text, 'null')
            || ',"payload":' || coalesce(payload::text, 'null')
            || ',"inserted_at":' || coalesce(to_json(inserted_at)::text, 'null')
            || ',"ingested_at":"' || %(ingested_at)s || E'"}}\n'
        END,
        '' ORDER BY inserted_at, event_id
    ) AS lines,
    encode(sha256(convert_to(
        string_agg(event_id::text || E'\n', '' ORDER BY inserted_at, event_id), 'UTF8'
    )), 'hex') AS ids_sha256
FROM (
    SELECT e.event_id, e.source, e.event_type, e.payload, e.inserted_at,
           to_char(e.inserted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') AS hour,
           coalesce(
               e.inserted_at >= '1000-01-01 00:00:00+00' AND e.inserted_at < '9999-01-01 00:00:00+00'
               AND ({fast_check}),
               false) AS ok
    FROM {table} AS e
    WHERE (e.inserted_at, e.event_id) > (%(lo_ts)s::timestamptz, %(lo_id)s::uuid)
      AND (e.inserted_at, e.event_id) <= (%(hi_ts)s::timestamptz, %(hi_id)s::uuid)
) AS c
GROUP BY source, event_type, hour
ORDER BY hour, source, event_type
