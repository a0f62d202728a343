-- Reconciliation, event-store side (PostgreSQL). {events} is the validated CARDFLOW_EVENTS_TABLE.

-- name: event_store_by_day_type
-- distinct events per UTC day and event type (event_id is the primary key: count(*) is distinct)
SELECT (inserted_at AT TIME ZONE 'UTC')::date AS day, event_type, count(*) AS events
FROM {events}
GROUP BY 1, 2
ORDER BY 1, 2;
