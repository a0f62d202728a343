

with raw_events as (

    select * from CARDFLOW.RAW.events
    where event_type = 'ManufacturingBatch'

),

touched_events as (

    -- event_ids with a copy loaded since the last run; all their copies are re-deduplicated
    select distinct event_id from raw_events
    where (loaded_at > (
        select 

    dateadd(
        minute,
        -60,
        max(loaded_at)
        )


        from CARDFLOW.SILVER.stg_manufacturing_batch
    )
    or (select count(*) from CARDFLOW.SILVER.stg_manufacturing_batch) = 0)

),

candidates as (

    select * from raw_events
    where event_id in (select event_id from touched_events)

),

latest_copy as (

    select * from candidates
    qualify row_number() over (
        partition by event_id
        order by inserted_at desc, ingested_at desc, loaded_at desc, file_name desc, file_row_number desc
    ) = 1

),

typed as (

    select
        -- ids
        event_id,
        try_cast(payload:batch_id::varchar as varchar) as batch_id,
        try_cast(payload:sku::varchar as varchar) as sku,

        -- numerics
        try_cast(payload:quantity_produced::varchar as number(38, 0)) as quantity_produced,
        cast(
        try_cast(payload:defect_rate_estimate:units::varchar as number(18, 0))
        * case payload:defect_rate_estimate:scale::varchar
        when '0' then cast('1' as number(7, 6))
        when '1' then cast('0.1' as number(7, 6))
        when '2' then cast('0.01' as number(7, 6))
        when '3' then cast('0.001' as number(7, 6))
        when '4' then cast('0.0001' as number(7, 6))
        when '5' then cast('0.00001' as number(7, 6))
        when '6' then cast('0.000001' as number(7, 6))
    end
        as number(38, 6)
    ) as defect_rate_estimate,

        -- dates and timestamps (UTC)
        try_cast(payload:production_date::varchar as date) as production_date,
        inserted_at as event_inserted_at,
        ingested_at,
        loaded_at,

        -- lineage
        file_name,
        file_row_number

    from latest_copy
    where case
        when not coalesce(left(to_json(payload), 1) = '{', false) then 'payload_not_object'
        when coalesce(payload:batch_id::varchar, '') = '' then 'missing_field:batch_id'
        when coalesce(payload:sku::varchar, '') = '' then 'missing_field:sku'
        when coalesce(payload:production_date::varchar, '') = '' then 'missing_field:production_date'
        when try_cast(payload:production_date::varchar as date) is null then 'bad_type:production_date'
        when coalesce(payload:quantity_produced::varchar, '') = '' then 'missing_field:quantity_produced'
        when try_cast(payload:quantity_produced::varchar as number(38, 0)) is null then 'bad_type:quantity_produced'
        when payload:defect_rate_estimate:units::varchar is null
             or payload:defect_rate_estimate:scale::varchar is null then 'missing_field:defect_rate_estimate'
        when cast(
        try_cast(payload:defect_rate_estimate:units::varchar as number(18, 0))
        * case payload:defect_rate_estimate:scale::varchar
        when '0' then cast('1' as number(7, 6))
        when '1' then cast('0.1' as number(7, 6))
        when '2' then cast('0.01' as number(7, 6))
        when '3' then cast('0.001' as number(7, 6))
        when '4' then cast('0.0001' as number(7, 6))
        when '5' then cast('0.00001' as number(7, 6))
        when '6' then cast('0.000001' as number(7, 6))
    end
        as number(38, 6)
    ) is null then 'bad_decimal:defect_rate_estimate'
    end is null

)

select * from typed