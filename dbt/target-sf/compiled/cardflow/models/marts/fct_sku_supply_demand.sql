

with cards as (

    select * from CARDFLOW.GOLD.dim_card

),

orders as (

    select * from CARDFLOW.GOLD.fct_orders

),

batches as (

    select * from CARDFLOW.GOLD.fct_batch_performance

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
        sum(estimated_good_units) as estimated_good_units
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
        cast(coalesce(supply.estimated_good_units, 0) as number(38, 6)) as estimated_good_units,
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