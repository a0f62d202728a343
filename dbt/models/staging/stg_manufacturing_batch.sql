{{ config(unique_key='event_id') }}

{%- set event_type = 'ManufacturingBatch' %}

with {{ cardflow.latest_raw_copies(source('raw', 'events'), event_type) }},

typed as (

    select
        -- ids
        event_id,
        {{ cardflow.payload_value(event_type, 'batch_id') }} as batch_id,
        {{ cardflow.payload_value(event_type, 'sku') }} as sku,

        -- numerics
        {{ cardflow.payload_value(event_type, 'quantity_produced') }} as quantity_produced,
        {{ cardflow.payload_value(event_type, 'defect_rate_estimate') }} as defect_rate_estimate,

        -- dates and timestamps (UTC)
        {{ cardflow.payload_value(event_type, 'production_date') }} as production_date,
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
