



with raw_events as (

    select * from CARDFLOW.RAW.events

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


        from CARDFLOW.SILVER.int_events_rejected
    )
    or (select count(*) from CARDFLOW.SILVER.int_events_rejected) = 0)

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

reasoned as (

    select
        event_id,
        source,
        event_type,
        case event_type
        when 'CardCatalogEntryInserted' then case
        when not coalesce(left(to_json(payload), 1) = '{', false) then 'payload_not_object'
        when coalesce(payload:sku::varchar, '') = '' then 'missing_field:sku'
        when coalesce(payload:card_name::varchar, '') = '' then 'missing_field:card_name'
        when coalesce(payload:sport::varchar, '') = '' then 'missing_field:sport'
        when coalesce(payload:player_name::varchar, '') = '' then 'missing_field:player_name'
        when coalesce(payload:team_name::varchar, '') = '' then 'missing_field:team_name'
        when coalesce(payload:parallel::varchar, '') = '' then 'missing_field:parallel'
        when coalesce(payload:print_run::varchar, '') = '' then 'missing_field:print_run'
        when try_cast(payload:print_run::varchar as number(38, 0)) is null then 'bad_type:print_run'
    end
        when 'OrderCreated' then case
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
    end
        when 'ManufacturingBatch' then case
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
    end
        else 'unknown_event_type'
    end as rejection_reason,
        to_json(payload) as payload_text,
        inserted_at as event_inserted_at,
        ingested_at,
        loaded_at,
        file_name,
        file_row_number

    from latest_copy

),

rejected as (

    select * from reasoned
    where rejection_reason is not null

)

select * from rejected