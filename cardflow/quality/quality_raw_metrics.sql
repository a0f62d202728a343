-- Metrics behind the freshness and volume checks of the transform flow (tasks/raw_checks.py).
-- {raw} is the validated SNOWFLAKE_RAW_SCHEMA identifier; {lookback} the VOLUME_ANOMALY_LOOKBACK_DAYS
-- integer. Runs on DuckDB (session TimeZone UTC) and Snowflake (session TIMEZONE UTC).
-- Statements are taken by their "-- name:" header.

-- name: freshness
SELECT max(inserted_at) AS newest_inserted_at,
       max(loaded_at) AS newest_loaded_at,
       min(inserted_at) AS oldest_inserted_at,
       count(*) AS raw_rows
FROM {raw}.EVENTS;

-- name: volume_windows
-- distinct events per 24-hour window counted back from the newest event (window 0 = the last 24 h)
WITH newest AS (
    SELECT max(inserted_at) AS ts FROM {raw}.EVENTS
)
SELECT floor(datediff('second', e.inserted_at, n.ts) / 86400) AS days_back,
       count(DISTINCT e.event_id) AS events
FROM {raw}.EVENTS AS e
CROSS JOIN newest AS n
WHERE e.inserted_at > n.ts - INTERVAL '{lookback_plus_one} days'
GROUP BY 1
ORDER BY 1;

-- name: raw_by_day_type
-- distinct events per UTC day and event type (reconciliation against the event store)
SELECT CAST(inserted_at AS DATE) AS day, event_type, count(DISTINCT event_id) AS events
FROM {raw}.EVENTS
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: raw_overlap_by_day_type
-- events that arrived through more than one origin (real-time and backfill), per UTC day and type;
-- file_origins(object_key, origin) is filled from the Bronze manifests (keys from 'source=' on)
WITH tagged AS (
    SELECT e.event_id, e.event_type, CAST(e.inserted_at AS DATE) AS day, o.origin
    FROM {raw}.EVENTS AS e
    JOIN file_origins AS o
      ON substr(e.file_name, position('source=' IN e.file_name)) = o.object_key
),
per_event AS (
    SELECT event_id, min(event_type) AS event_type, min(day) AS day, count(DISTINCT origin) AS origins
    FROM tagged
    GROUP BY event_id
)
SELECT day, event_type, count(*) AS events
FROM per_event
WHERE origins > 1
GROUP BY 1, 2
ORDER BY 1, 2;
