{{ config(unique_key='event_id') }}

{#
  Conflicting duplicates: event_ids whose RAW copies differ in content (payload, inserted_at,
  source or event_type). Silver keeps one copy by the rule of raw_event_order (latest inserted_at,
  then latest ingested_at, then the larger payload hash); this model makes every such case visible
  and countable instead of a silent pick. One row per conflicting event_id.
#}

with {{ cardflow.latest_raw_copies(source('raw', 'events')) }},

copies as (

    select
        event_id,
        source,
        event_type,
        inserted_at,
        loaded_at,
        {{ cardflow.payload_hash('payload') }} as payload_hash
    from candidates

),

conflicts as (

    select
        copies.event_id,
        count(*) as copies,
        count(distinct copies.payload_hash) as distinct_payloads,
        count(distinct copies.inserted_at) as distinct_inserted_at,
        count(distinct copies.source || '|' || copies.event_type) as distinct_types,
        max(latest_copy.event_type) as kept_event_type,
        max(latest_copy.inserted_at) as kept_inserted_at,
        max({{ cardflow.payload_hash('latest_copy.payload') }}) as kept_payload_hash,
        max(copies.loaded_at) as loaded_at

    from copies
    inner join latest_copy on copies.event_id = latest_copy.event_id
    group by copies.event_id
    having count(distinct copies.payload_hash) > 1
        or count(distinct copies.inserted_at) > 1
        or count(distinct copies.source || '|' || copies.event_type) > 1

)

select * from conflicts
