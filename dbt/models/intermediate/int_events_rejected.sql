{{ config(unique_key='event_id') }}

{#
  Events that cannot be typed into Silver, with the reason: the quarantine of the warehouse.
  Nothing RAW holds is dropped silently: every deduplicated RAW event is in exactly one of the
  three stg_* models or here.
#}

with {{ cardflow.latest_raw_copies(source('raw', 'events')) }},

reasoned as (

    select
        event_id,
        source,
        event_type,
        {{ cardflow.any_rejection_reason('event_type', 'payload') }} as rejection_reason,
        {{ cardflow.json_to_text('payload') }} as payload_text,
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
