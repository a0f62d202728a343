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

-- The report's charts draw the aggregates below, not the analysts' per-row starter queries: each
-- returns a number of rows bounded by its bins, however many orders, batches and SKUs Gold holds.

-- name: revenue_by_sport_over_time
-- Revenue per sport per period (the report's revenue-over-time chart): UTC days when the orders
-- span at most 120 days, weeks (starting Monday) up to 840 days, months beyond, so a sport has at
-- most 121 points in ten years. Same revenue as the starter revenue_by_sport_by_day.
with orders as (
    select
        o.order_ts,
        o.order_total,
        coalesce(c.sport, '(unknown sku)') as sport
    from {gold}.fct_orders o
    left join {gold}.dim_card c on c.sku = o.sku
    where o.status <> 'CANCELLED'
),

span as (
    select cast(max(order_ts) as date) - cast(min(order_ts) as date) as days
    from orders
),

grained as (
    select
        case when span.days <= 120 then 'day' when span.days <= 840 then 'week' else 'month' end as grain,
        orders.order_ts,
        orders.order_total,
        orders.sport
    from orders
    cross join span
),

periods as (
    select
        grain,
        case grain
            when 'day' then date_trunc('day', order_ts)
            when 'week' then date_trunc('week', order_ts)
            else date_trunc('month', order_ts)
        end as period_start,
        sport,
        order_total
    from grained
),

final as (
    select
        grain,
        period_start,
        sport,
        count(*) as orders,
        sum(order_total) as revenue
    from periods
    group by grain, period_start, sport
)

select * from final
order by period_start, sport;

-- name: defect_rate_histogram
-- Batches per sport in 20 equal-width bins of the estimated defect rate (percent), from the lowest
-- to the highest rate in Gold (the report's defect-rate chart): at most 20 rows per sport. When
-- every batch has the same rate, one bin 0.05 points wide holds them all.
with batches as (
    select
        coalesce(c.sport, '(unknown sku)') as sport,
        cast(b.defect_rate_estimate as double) * 100 as defect_pct
    from {gold}.fct_batch_performance b
    left join {gold}.dim_card c on c.sku = b.sku
    where b.defect_rate_estimate is not null
),

bounds as (
    select
        min(defect_pct) as low,
        case when max(defect_pct) > min(defect_pct) then (max(defect_pct) - min(defect_pct)) / 20 else 0.05 end as width
    from batches
),

binned as (
    select
        batches.sport,
        cast(least(floor((batches.defect_pct - bounds.low) / bounds.width), 19) as integer) as bin,
        bounds.low,
        bounds.width
    from batches
    cross join bounds
),

final as (
    select
        sport,
        bin,
        low + bin * width as defect_pct_from,
        low + (bin + 1) * width as defect_pct_to,
        count(*) as batches
    from binned
    group by sport, bin, low, width
)

select * from final
order by bin, sport;

-- name: supply_demand_cells
-- SKUs per cell of estimated good units x units sold, both axes in powers of two ([0, 1), [1, 2),
-- [2, 4), ...), with how many of each cell's SKUs are oversold (the report's supply-vs-demand
-- chart): at most one row per pair of bins, about 400 for a million units on both axes.
with skus as (
    select
        cast(s.estimated_good_units as double) as good_units,
        cast(s.units_sold as double) as units_sold,
        s.is_oversold
    from {gold}.fct_sku_supply_demand s
),

binned as (
    -- the 1e-9 keeps an exact power of two in its own bin despite rounding in ln(x) / ln(2)
    select
        cast(case when good_units < 1 then 0 else floor(ln(good_units) / ln(2) + 1e-9) + 1 end as integer) as good_bin,
        cast(case when units_sold < 1 then 0 else floor(ln(units_sold) / ln(2) + 1e-9) + 1 end as integer) as sold_bin,
        is_oversold
    from skus
),

final as (
    select
        good_bin,
        sold_bin,
        case when good_bin = 0 then 0 else power(2, good_bin - 1) end as good_units_from,
        power(2, good_bin) as good_units_to,
        case when sold_bin = 0 then 0 else power(2, sold_bin - 1) end as units_sold_from,
        power(2, sold_bin) as units_sold_to,
        count(*) as skus,
        sum(case when is_oversold then 1 else 0 end) as oversold_skus
    from binned
    group by good_bin, sold_bin
)

select * from final
order by good_bin, sold_bin;
