



with orders as (

    select * from CARDFLOW.SILVER.stg_order_created

),

current_gold as (

    select * from CARDFLOW.GOLD.fct_orders

),

touched_orders as (

    select distinct orders.order_id
    from orders
    left join current_gold on orders.order_id = current_gold.order_id
    where current_gold.order_id is null
        or orders.event_inserted_at > current_gold.event_inserted_at
        or (
            orders.event_inserted_at = current_gold.event_inserted_at
            and (
                (orders.status <> current_gold.status or (orders.status is null) <> (current_gold.status is null))
                or (orders.quantity <> current_gold.quantity or (orders.quantity is null) <> (current_gold.quantity is null))
                or (orders.unit_price <> current_gold.unit_price or (orders.unit_price is null) <> (current_gold.unit_price is null))
                or (orders.sku <> current_gold.sku or (orders.sku is null) <> (current_gold.sku is null))
                or (orders.customer_id <> current_gold.customer_id or (orders.customer_id is null) <> (current_gold.customer_id is null))
                or (orders.order_ts <> current_gold.order_ts or (orders.order_ts is null) <> (current_gold.order_ts is null))
            )
        )

),

candidates as (

    select * from orders
    where order_id in (select order_id from touched_orders)

),

latest_event as (

    select * from candidates
    qualify row_number() over (
        partition by order_id
        order by event_inserted_at desc, event_id desc
    ) = 1

),

final as (

    select
        order_id,
        order_ts,
        customer_id,
        sku,
        quantity,
        unit_price,
        cast(quantity * unit_price as number(38, 4)) as order_total,
        status,
        event_inserted_at

    from latest_event

)

select * from final