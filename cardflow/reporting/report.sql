-- Queries behind `cardflow report` besides the analysts' examples (sql/examples.sql).
-- Plain SQL for DuckDB and Snowflake; {raw} and {gold} are the configured schema names.

-- name: raw_freshness
-- How current RAW.EVENTS is: newest source timestamp, newest landing and load, rows.
select
    count(*) as raw_events,
    max(inserted_at) as newest_event_inserted_at,
    max(ingested_at) as newest_ingested_at,
    max(loaded_at) as newest_loaded_at
from {raw}.events;

-- name: gold_counts
select 'dim_card' as gold_table, count(*) as row_count from {gold}.dim_card
union all select 'fct_orders', count(*) from {gold}.fct_orders
union all select 'fct_batch_performance', count(*) from {gold}.fct_batch_performance
union all select 'dim_card_history', count(*) from {gold}.dim_card_history
union all select 'fct_sku_supply_demand', count(*) from {gold}.fct_sku_supply_demand;

-- name: headline
-- The numbers at the top of the report (revenue excludes cancelled orders).
select
    sum(case when status <> 'CANCELLED' then order_total else 0 end) as revenue,
    sum(case when status <> 'CANCELLED' then 1 else 0 end) as orders,
    count(distinct customer_id) as customers,
    min(order_ts) as first_order_ts,
    max(order_ts) as last_order_ts
from {gold}.fct_orders;
