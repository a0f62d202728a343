{{ config(unique_key='event_id') }}

{%- set event_type = 'CardCatalogEntryInserted' %}

with {{ cardflow.latest_raw_copies(source('raw', 'events'), event_type) }},

typed as (

    select
        -- ids
        event_id,
        {{ cardflow.payload_value(event_type, 'sku') }} as sku,

        -- attributes
        {{ cardflow.payload_value(event_type, 'card_name') }} as card_name,
        {{ cardflow.payload_value(event_type, 'sport') }} as sport,
        {{ cardflow.payload_value(event_type, 'player_name') }} as player_name,
        {{ cardflow.payload_value(event_type, 'team_name') }} as team_name,
        {{ cardflow.payload_value(event_type, 'parallel') }} as parallel,

        -- numerics
        {{ cardflow.payload_value(event_type, 'print_run') }} as print_run,

        -- timestamps (UTC)
        inserted_at as event_inserted_at,
        ingested_at,
        loaded_at,

        -- lineage
        file_name,
        file_row_number,
        {{ cardflow.run_started_timestamp() }} as processed_at

    from latest_copy
    where {{ cardflow.payload_rejection_reason(event_type) }} is null

)

select * from typed
