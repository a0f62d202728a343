

with raw_events as (

    select * from CARDFLOW.RAW.events
    where event_type = 'OrderCreated'

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


        from CARDFLOW.SILVER.stg_order_created
    )
    or (select count(*) from CARDFLOW.SILVER.stg_order_created) = 0)

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
        try_cast(payload:order_id::varchar as varchar) as order_id,
        try_cast(payload:customer_id::varchar as varchar) as customer_id,
        try_cast(payload:sku::varchar as varchar) as sku,

        -- numerics
        try_cast(payload:quantity::varchar as number(38, 0)) as quantity,
        cast(
        try_cast(payload:price:units::varchar as number(18, 0))
        * case payload:price:scale::varchar
        when '0' then cast('1' as number(5, 4))
        when '1' then cast('0.1' as number(5, 4))
        when '2' then cast('0.01' as number(5, 4))
        when '3' then cast('0.001' as number(5, 4))
        when '4' then cast('0.0001' as number(5, 4))
    end
        as number(38, 4)
    ) as unit_price,

        -- categories
        try_cast(payload:status::varchar as varchar) as status,

        -- timestamps (UTC)
        try_cast(payload:order_ts::varchar as timestamp_tz) as order_ts,
        inserted_at as event_inserted_at,
        ingested_at,
        loaded_at,

        -- lineage
        file_name,
        file_row_number

    from latest_copy
    where case
        when not coalesce(left(to_json(payload), 1) = '{', false) then 'payload_not_object'
        when coalesce(payload:order_id::varchar, '') = '' then 'missing_field:order_id'
        when coalesce(payload:order_ts::varchar, '') = '' then 'missing_field:order_ts'
        when try_cast(payload:order_ts::varchar as timestamp_tz) is null then 'bad_type:order_ts'
        when coalesce(payload:customer_id::varchar, '') = '' then 'missing_field:customer_id'
        when coalesce(payload:sku::varchar, '') = '' then 'missing_field:sku'
        when coalesce(payload:quantity::varchar, '') = '' then 'missing_field:quantity'
        when try_cast(payload:quantity::varchar as number(38, 0)) is null then 'bad_type:quantity'
        when payload:price:units::varchar is null
             or payload:price:scale::varchar is null then 'missing_field:price'
        when cast(
        try_cast(payload:price:units::varchar as number(18, 0))
        * case payload:price:scale::varchar
        when '0' then cast('1' as number(5, 4))
        when '1' then cast('0.1' as number(5, 4))
        when '2' then cast('0.01' as number(5, 4))
        when '3' then cast('0.001' as number(5, 4))
        when '4' then cast('0.0001' as number(5, 4))
    end
        as number(38, 4)
    ) is null then 'bad_decimal:price'
        when coalesce(payload:status::varchar, '') = '' then 'missing_field:status'
    end is null

)

select * from typed