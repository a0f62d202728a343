



with batches as (

    select * from CARDFLOW.SILVER.stg_manufacturing_batch

),

current_gold as (

    select * from CARDFLOW.GOLD.fct_batch_performance

),

touched_batches as (

    select distinct batches.batch_id
    from batches
    left join current_gold on batches.batch_id = current_gold.batch_id
    where current_gold.batch_id is null
        or batches.event_inserted_at > current_gold.event_inserted_at
        or (
            batches.event_inserted_at = current_gold.event_inserted_at
            and (
                (batches.sku <> current_gold.sku or (batches.sku is null) <> (current_gold.sku is null))
                or (batches.production_date <> current_gold.production_date or (batches.production_date is null) <> (current_gold.production_date is null))
                or (batches.quantity_produced <> current_gold.quantity_produced or (batches.quantity_produced is null) <> (current_gold.quantity_produced is null))
                or (batches.defect_rate_estimate <> current_gold.defect_rate_estimate or (batches.defect_rate_estimate is null) <> (current_gold.defect_rate_estimate is null))
            )
        )

),

candidates as (

    select * from batches
    where batch_id in (select batch_id from touched_batches)

),

latest_event as (

    select * from candidates
    qualify row_number() over (
        partition by batch_id
        order by event_inserted_at desc, event_id desc
    ) = 1

),

final as (

    select
        batch_id,
        sku,
        production_date,
        quantity_produced,
        defect_rate_estimate,
        cast(quantity_produced * defect_rate_estimate as number(38, 6)) as estimated_defects,
        cast(quantity_produced - quantity_produced * defect_rate_estimate as number(38, 6))
            as estimated_good_units,
        event_inserted_at

    from latest_event

)

select * from final