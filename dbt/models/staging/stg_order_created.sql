{{ config(unique_key='event_id') }}

{%- set event_type = 'OrderCreated' %}

with {{ cardflow.latest_raw_copies(source('raw', 'events'), event_type) }},

typed as (

    select
        -- ids
        event_id,
        {{ cardflow.payload_value(event_type, 'order_id') }} as order_id,
        {{ cardflow.payload_value(event_type, 'customer_id') }} as customer_id,
        {{ cardflow.payload_value(event_type, 'sku') }} as sku,

        -- numerics
        {{ cardflow.payload_value(event_type, 'quantity') }} as quantity,
        {{ cardflow.payload_value(event_type, 'price') }} as unit_price,

        -- categories
        {{ cardflow.payload_value(event_type, 'status') }} as status,

        -- timestamps (UTC)
        {{ cardflow.payload_value(event_type, 'order_ts') }} as order_ts,
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
