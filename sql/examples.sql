-- Starter queries on the Gold layer. Copy one into DuckDB or Snowflake and run it unchanged:
-- plain SQL, schema-qualified with the default schema name (gold), no dialect-specific functions.
--
-- * Revenue is order_total of orders whose latest status is not CANCELLED (fct_orders keeps one
--   row per order: re-emitted status changes never double count).
-- * Days are UTC days. Snowflake truncates TIMESTAMP_TZ in the value's own (UTC) offset; DuckDB
--   truncates TIMESTAMPTZ in the session time zone, so run `SET TimeZone = 'UTC'` there first (as
--   dbt's profile and `cardflow report` do).
-- * Every query ends in an ORDER BY with a unique tie-breaker, so LIMITs are deterministic.
--
-- Each query starts with a `-- name: <key>` line: cardflow.sqlfiles.named_queries() reads them
-- (and maps `gold.` to a configured SNOWFLAKE_GOLD_SCHEMA); tests run every one on DuckDB and on a
-- Snowflake stand-in and compare the results with a computation from the raw events.

-- name: top_skus_by_revenue
-- The 20 best-selling cards by revenue.
select
    o.sku,
    c.card_name,
    c.sport,
    c.player_name,
    c.parallel,
    count(*) as orders,
    sum(o.quantity) as units,
    sum(o.order_total) as revenue
from gold.fct_orders o
left join gold.dim_card c on c.sku = o.sku
where o.status <> 'CANCELLED'
group by o.sku, c.card_name, c.sport, c.player_name, c.parallel
order by revenue desc, o.sku
limit 20;

-- name: top_players_by_revenue
-- The 15 players whose cards earn the most.
select
    c.player_name,
    c.sport,
    count(distinct o.sku) as skus_sold,
    sum(o.quantity) as units,
    sum(o.order_total) as revenue
from gold.fct_orders o
join gold.dim_card c on c.sku = o.sku
where o.status <> 'CANCELLED'
group by c.player_name, c.sport
order by revenue desc, c.player_name
limit 15;

-- name: revenue_by_sport_by_day
-- Daily revenue per sport. Orders of SKUs missing from the catalog show up under sport
-- '(unknown sku)'. The report charts the same revenue by day, week or month, depending on the span
-- (revenue_by_sport_over_time in cardflow/reporting/report.sql).
select
    date_trunc('day', o.order_ts) as order_day,
    coalesce(c.sport, '(unknown sku)') as sport,
    count(*) as orders,
    sum(o.quantity) as units,
    sum(o.order_total) as revenue
from gold.fct_orders o
left join gold.dim_card c on c.sku = o.sku
where o.status <> 'CANCELLED'
group by date_trunc('day', o.order_ts), coalesce(c.sport, '(unknown sku)')
order by order_day, sport;

-- name: revenue_by_team_by_day
-- Daily revenue per team, attributing each order to the team the catalog listed for its card
-- when the order was placed (point-in-time join on the SCD2 history: a later correction of a
-- card's team does not move past revenue). The first version of a card counts from the beginning.
select
    date_trunc('day', o.order_ts) as order_day,
    h.sport,
    h.team_name,
    count(*) as orders,
    sum(o.order_total) as revenue
from gold.fct_orders o
join gold.dim_card_history h
    on h.sku = o.sku
    and (o.order_ts >= h.valid_from or h.version_number = 1)
    and (o.order_ts < h.valid_to or h.valid_to is null)
where o.status <> 'CANCELLED'
group by date_trunc('day', o.order_ts), h.sport, h.team_name
order by order_day, h.sport, h.team_name;

-- name: revenue_by_player_by_day
-- Daily revenue per player (players do not change with catalog corrections here: the current
-- card attributes are used).
select
    date_trunc('day', o.order_ts) as order_day,
    c.sport,
    c.player_name,
    count(*) as orders,
    sum(o.order_total) as revenue
from gold.fct_orders o
join gold.dim_card c on c.sku = o.sku
where o.status <> 'CANCELLED'
group by date_trunc('day', o.order_ts), c.sport, c.player_name
order by order_day, c.sport, c.player_name;

-- name: defect_rate_by_sku
-- Estimated defect rate per SKU over all its batches (defects / units produced, 6 decimals).
select
    b.sku,
    c.card_name,
    c.sport,
    count(*) as batches,
    sum(b.quantity_produced) as units_produced,
    sum(b.estimated_defects) as estimated_defects,
    round(sum(b.estimated_defects) / nullif(sum(b.quantity_produced), 0), 6) as defect_rate
from gold.fct_batch_performance b
left join gold.dim_card c on c.sku = b.sku
group by b.sku, c.card_name, c.sport
order by defect_rate desc nulls last, b.sku;

-- name: defect_rate_by_batch
-- Every batch with its defect rate and sport, worst first. The report draws their distribution
-- as a histogram binned in SQL (defect_rate_histogram in cardflow/reporting/report.sql).
select
    b.batch_id,
    b.sku,
    coalesce(c.sport, '(unknown sku)') as sport,
    b.production_date,
    b.quantity_produced,
    b.defect_rate_estimate,
    b.estimated_defects,
    b.estimated_good_units
from gold.fct_batch_performance b
left join gold.dim_card c on c.sku = b.sku
order by b.defect_rate_estimate desc, b.batch_id;

-- name: supply_vs_demand
-- Per SKU: units produced and estimated good units against units sold (orders not cancelled).
select
    s.sku,
    c.card_name,
    c.parallel,
    s.print_run,
    s.batches_count,
    s.units_produced,
    s.estimated_good_units,
    s.units_sold,
    s.is_oversold
from gold.fct_sku_supply_demand s
left join gold.dim_card c on c.sku = s.sku
order by s.units_sold desc, s.sku;

-- name: oversold_skus
-- SKUs that sold more units than their batches are estimated to have produced in good condition,
-- largest shortfall first.
select
    s.sku,
    c.card_name,
    s.is_known_sku,
    s.units_produced,
    s.estimated_good_units,
    s.units_sold,
    s.units_sold - s.estimated_good_units as shortfall
from gold.fct_sku_supply_demand s
left join gold.dim_card c on c.sku = s.sku
where s.is_oversold
order by shortfall desc, s.sku;

-- name: latest_catalog_entries
-- The 20 most recent catalog changes (new cards and corrections), newest first.
select
    h.sku,
    h.version_number,
    h.card_name,
    h.sport,
    h.player_name,
    h.team_name,
    h.parallel,
    h.print_run,
    h.valid_from,
    h.is_current
from gold.dim_card_history h
order by h.valid_from desc, h.sku
limit 20;
