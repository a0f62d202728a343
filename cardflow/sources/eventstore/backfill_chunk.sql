-- One backfill chunk: the event store rows in the keyset range (lo, hi] on (inserted_at, event_id),
-- one result row per hourly Bronze partition (source, event_type, UTC hour).
--
-- {table} is the validated CARDFLOW_EVENTS_TABLE identifier.
--
-- Each row becomes one NDJSON line with the Bronze record's fields in canonical order, the payload
-- as jsonb's own text with its separators compacted here ('": ' -> '":', ', ' -> ','): this
-- server's core does that, not the backfill's GIL. The replace also touches a string that holds
-- ', ' or '\": '; partitions.py proves per line that no string was touched (its check admits no
-- ',' or '"' inside a string) and reads the original text of a line it cannot prove that of
-- (sql/original_payloads.sql). Rows whose envelope cannot be rendered canonically here (source or
-- event_type not one of the contract's pairs, inserted_at not a finite timestamp of years
-- 1000-9998) are prefixed with '?' and carry their raw values, for validate_envelope in Python.
--
-- Lines are aggregated in whatever order the scan delivers them (no sort of wide rows: that
-- would cost more than the rest of the query); Python puts each part in event_id order.
SELECT
    source,
    event_type,
    to_char(hour, 'YYYY-MM-DD"T"HH24') AS hour,
    count(*) AS rows_read,
    string_agg(line, '') AS lines
FROM (
    SELECT e.source, e.event_type, date_trunc('hour', e.inserted_at) AS hour,
           CASE WHEN coalesce(
                    e.inserted_at >= '1000-01-01 00:00:00+00' AND e.inserted_at < '9999-01-01 00:00:00+00'
                    AND (e.source, e.event_type) IN ({pairs}),
                    false)
           THEN
               '{{"event_id":"' || e.event_id::text || '","source":"' || e.source
               || '","event_type":"' || e.event_type
               || '","payload":' || replace(replace(e.payload::text, '": ', '":'), ', ', ',')
               || ',"inserted_at":"' || to_char(e.inserted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
               || '+00:00","ingested_at":"' || %(ingested_at)s || E'"}}\n'
           ELSE
               '?{{"event_id":"' || e.event_id::text
               || '","source":' || coalesce(to_json(e.source)::text, 'null')
               || ',"event_type":' || coalesce(to_json(e.event_type)::text, 'null')
               || ',"payload":' || coalesce(e.payload::text, 'null')
               || ',"inserted_at":' || coalesce(to_json(e.inserted_at)::text, 'null')
               || ',"ingested_at":"' || %(ingested_at)s || E'"}}\n'
           END AS line
    FROM {table} AS e
    WHERE (e.inserted_at, e.event_id) > (%(lo_ts)s::timestamptz, %(lo_id)s::uuid)
      AND (e.inserted_at, e.event_id) <= (%(hi_ts)s::timestamptz, %(hi_id)s::uuid)
) AS c
GROUP BY source, event_type, hour
ORDER BY hour, source, event_type
