-- Ad-hoc data quality checks: the same checks the transform flow enforces, for an analyst or an
-- on-call engineer to run by hand. Runs as-is on Snowflake and on DuckDB (the embedded warehouse);
-- tests/integration/test_quality_integration.py executes every statement on both (DuckDB and fakesnow).
-- Thresholds here are the defaults (RAW_EVENTS_FRESHNESS_WARN_HOURS=6, _ERROR_HOURS=24,
-- VOLUME_ANOMALY_PCT=50, VOLUME_ANOMALY_LOOKBACK_DAYS=7); the flow reads them from the environment.

-- 1. Freshness of RAW.EVENTS: age of the newest event (by the source's inserted_at) and of the newest load.
SELECT max(inserted_at) AS newest_inserted_at,
       max(loaded_at) AS newest_loaded_at,
       datediff('minute', max(inserted_at), current_timestamp) / 60.0 AS age_hours,
       CASE
           WHEN max(inserted_at) IS NULL THEN 'error: empty'
           WHEN datediff('minute', max(inserted_at), current_timestamp) > 24 * 60 THEN 'error'
           WHEN datediff('minute', max(inserted_at), current_timestamp) > 6 * 60 THEN 'warn'
           ELSE 'ok'
       END AS freshness_status
FROM RAW.EVENTS;

-- 2. Volume anomaly: distinct events in the last 24 h of data vs the mean of the 7 windows before.
WITH newest AS (
    SELECT max(inserted_at) AS ts FROM RAW.EVENTS
),
windows AS (
    SELECT floor(datediff('second', e.inserted_at, n.ts) / 86400) AS days_back,
           count(DISTINCT e.event_id) AS events
    FROM RAW.EVENTS AS e
    CROSS JOIN newest AS n
    WHERE e.inserted_at > n.ts - INTERVAL '8 days'
    GROUP BY 1
)
SELECT max(CASE WHEN days_back = 0 THEN events END) AS last_24h,
       avg(CASE WHEN days_back BETWEEN 1 AND 7 THEN events END) AS baseline_per_day,
       CASE
           WHEN avg(CASE WHEN days_back BETWEEN 1 AND 7 THEN events END) IS NULL THEN 'skipped'
           WHEN coalesce(max(CASE WHEN days_back = 0 THEN events END), 0)
                <= 0.5 * avg(CASE WHEN days_back BETWEEN 1 AND 7 THEN events END) THEN 'error: drop'
           WHEN coalesce(max(CASE WHEN days_back = 0 THEN events END), 0)
                <= 0.75 * avg(CASE WHEN days_back BETWEEN 1 AND 7 THEN events END) THEN 'warn: drop'
           WHEN max(CASE WHEN days_back = 0 THEN events END)
                >= 1.5 * avg(CASE WHEN days_back BETWEEN 1 AND 7 THEN events END) THEN 'warn: spike'
           ELSE 'ok'
       END AS volume_status
FROM windows;

-- 3. Distinct events per UTC day and event type (compare with the event store for gaps).
SELECT CAST(inserted_at AS DATE) AS event_day, event_type, count(DISTINCT event_id) AS events,
       count(*) AS raw_rows, count(*) - count(DISTINCT event_id) AS redelivered_rows
FROM RAW.EVENTS
GROUP BY 1, 2
ORDER BY 1, 2;

-- 4. Silver: orders with a negative quantity or price.
SELECT event_id, order_id, sku, quantity, unit_price
FROM SILVER.STG_ORDER_CREATED
WHERE quantity < 0 OR unit_price < 0;

-- 5. Silver: duplicate deliveries (the same order and status under more than one event_id).
SELECT order_id, status, count(*) AS events
FROM SILVER.STG_ORDER_CREATED
GROUP BY order_id, status
HAVING count(*) > 1;

-- 6. Silver: manufacturing batches with a negative quantity or a defect rate outside [0, 1].
SELECT event_id, batch_id, sku, quantity_produced, defect_rate_estimate
FROM SILVER.STG_MANUFACTURING_BATCH
WHERE quantity_produced < 0 OR defect_rate_estimate < 0 OR defect_rate_estimate > 1;

-- 7. Gold: orders whose order_total is not quantity x unit_price.
SELECT order_id, quantity, unit_price, order_total
FROM GOLD.FCT_ORDERS
WHERE order_total <> quantity * unit_price;

-- 8. Gold: orders and batches naming a SKU the catalog (dim_card) does not have.
SELECT 'fct_orders' AS model, o.sku, count(*) AS rows_affected
FROM GOLD.FCT_ORDERS AS o
LEFT JOIN GOLD.DIM_CARD AS c ON o.sku = c.sku
WHERE c.sku IS NULL
GROUP BY o.sku
UNION ALL
SELECT 'fct_batch_performance' AS model, b.sku, count(*) AS rows_affected
FROM GOLD.FCT_BATCH_PERFORMANCE AS b
LEFT JOIN GOLD.DIM_CARD AS c ON b.sku = c.sku
WHERE c.sku IS NULL
GROUP BY b.sku;

-- 9. Gold: batches estimating more defects than units produced.
SELECT batch_id, quantity_produced, estimated_defects
FROM GOLD.FCT_BATCH_PERFORMANCE
WHERE estimated_defects > quantity_produced OR estimated_defects < 0;

-- 10. Gold: key uniqueness of the marts.
SELECT 'fct_orders' AS model, count(*) - count(DISTINCT order_id) AS duplicate_keys FROM GOLD.FCT_ORDERS
UNION ALL
SELECT 'fct_batch_performance', count(*) - count(DISTINCT batch_id) FROM GOLD.FCT_BATCH_PERFORMANCE
UNION ALL
SELECT 'dim_card', count(*) - count(DISTINCT sku) FROM GOLD.DIM_CARD;
