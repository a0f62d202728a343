

with raw_events as (

    select * from CARDFLOW.RAW.events
    where event_type = 'CardCatalogEntryInserted'

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


        from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
    )
    or (select count(*) from CARDFLOW.SILVER.stg_card_catalog_entry_inserted) = 0)

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
        try_cast(payload:sku::varchar as varchar) as sku,

        -- attributes
        try_cast(payload:card_name::varchar as varchar) as card_name,
        try_cast(payload:sport::varchar as varchar) as sport,
        try_cast(payload:player_name::varchar as varchar) as player_name,
        try_cast(payload:team_name::varchar as varchar) as team_name,
        try_cast(payload:parallel::varchar as varchar) as parallel,

        -- numerics
        try_cast(payload:print_run::varchar as number(38, 0)) as print_run,

        -- timestamps (UTC)
        inserted_at as event_inserted_at,
        ingested_at,
        loaded_at,

        -- lineage
        file_name,
        file_row_number

    from latest_copy
    where case
        when not coalesce(left(to_json(payload), 1) = '{', false) then 'payload_not_object'
        when coalesce(payload:sku::varchar, '') = '' then 'missing_field:sku'
        when coalesce(payload:card_name::varchar, '') = '' then 'missing_field:card_name'
        when coalesce(payload:sport::varchar, '') = '' then 'missing_field:sport'
        when coalesce(payload:player_name::varchar, '') = '' then 'missing_field:player_name'
        when coalesce(payload:team_name::varchar, '') = '' then 'missing_field:team_name'
        when coalesce(payload:parallel::varchar, '') = '' then 'missing_field:parallel'
        when coalesce(payload:print_run::varchar, '') = '' then 'missing_field:print_run'
        when try_cast(payload:print_run::varchar as number(38, 0)) is null then 'bad_type:print_run'
    end is null

)

select * from typed