-- Queries behind `cardflow demo`'s summary. Plain SQL that runs on DuckDB and Snowflake.
-- Each query starts with a `-- name:` line; {gold} and {silver} and {raw} are schema names.

-- name: layer_counts
select 'raw.events' as layer_table, count(*) as row_count from {raw}.events
union all select 'silver.stg_card_catalog_entry_inserted', count(*) from {silver}.stg_card_catalog_entry_inserted
union all select 'silver.stg_order_created', count(*) from {silver}.stg_order_created
union all select 'silver.stg_manufacturing_batch', count(*) from {silver}.stg_manufacturing_batch
union all select 'gold.dim_card', count(*) from {gold}.dim_card
union all select 'gold.fct_orders', count(*) from {gold}.fct_orders
union all select 'gold.fct_batch_performance', count(*) from {gold}.fct_batch_performance;

-- name: top_skus_by_revenue
select o.sku, c.card_name, sum(o.order_total) as revenue, sum(o.quantity) as units
from {gold}.fct_orders o
left join {gold}.dim_card c on c.sku = o.sku
where o.status <> 'CANCELLED'
group by o.sku, c.card_name
order by revenue desc, o.sku
limit 5;

-- name: defect_rate_by_sport
select c.sport,
       count(*) as batches,
       sum(b.quantity_produced) as units_produced,
       round(sum(b.estimated_defects) / nullif(sum(b.quantity_produced), 0), 4) as defect_rate
from {gold}.fct_batch_performance b
join {gold}.dim_card c on c.sku = b.sku
group by c.sport
order by c.sport;
