{#
  One row per SKU seen anywhere (catalog, orders or batches): supply (units produced, estimated good
  units) against demand (units sold: quantity of orders not CANCELLED), and an oversold flag when
  more units were sold than estimated good units exist. is_known_sku is false for SKUs that orders
  or batches name but the catalog does not (the quality gates act on those).

  A table over the Gold facts: thousands of rows, rebuilt in one aggregate pass, which is cheaper
  than tracking which SKUs an incremental run touched.
#}

with cards as (

    select * from {{ ref('dim_card') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

batches as (

    select * from {{ ref('fct_batch_performance') }}

),

demand as (

    select
        sku,
        count(*) as orders_count,
        sum(case when status <> 'CANCELLED' then quantity else 0 end) as units_sold,
        sum(case when status = 'CANCELLED' then quantity else 0 end) as units_cancelled
    from orders
    group by sku

),

supply as (

    select
        sku,
        count(*) as batches_count,
        sum(quantity_produced) as units_produced,
        -- the explicit cast keeps the sum exact on fakesnow too (it sums uncast arguments as DOUBLE)
        sum(cast(estimated_good_units as {{ cardflow.exact_decimal_type(var('decimal_scale')) }})) as estimated_good_units
    from batches
    group by sku

),

skus as (

    select sku from cards
    union
    select sku from demand
    union
    select sku from supply

),

final as (

    select
        skus.sku,
        cards.sku is not null as is_known_sku,
        cards.print_run,
        coalesce(supply.batches_count, 0) as batches_count,
        coalesce(supply.units_produced, 0) as units_produced,
        cast(coalesce(supply.estimated_good_units, 0) as {{ cardflow.exact_decimal_type(var('decimal_scale')) }}) as estimated_good_units,
        coalesce(demand.orders_count, 0) as orders_count,
        coalesce(demand.units_sold, 0) as units_sold,
        coalesce(demand.units_cancelled, 0) as units_cancelled,
        coalesce(demand.units_sold, 0) > coalesce(supply.estimated_good_units, 0) as is_oversold

    from skus
    left join cards on skus.sku = cards.sku
    left join demand on skus.sku = demand.sku
    left join supply on skus.sku = supply.sku

)

select * from final
