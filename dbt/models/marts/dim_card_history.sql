{#
  SCD type 2 of the catalog: one row per SKU and version. A version starts (valid_from) at the
  catalog event that changed any attribute and ends (valid_to, exclusive) where the next version
  starts; the current version has valid_to NULL and is_current true. Re-sent events that change
  nothing do not open a version.
#}

with catalog_events as (

    select * from {{ ref('stg_card_catalog_entry_inserted') }}

),

fingerprinted as (

    select
        *,
        {{ cardflow.card_attributes_fingerprint() }} as attributes_fingerprint
    from catalog_events

),

compared as (

    select
        *,
        lag(attributes_fingerprint) over (partition by sku order by event_inserted_at, event_id)
            as previous_fingerprint
    from fingerprinted

),

changes as (

    select * from compared
    where previous_fingerprint is null or previous_fingerprint <> attributes_fingerprint

),

versions as (

    select
        sku,
        card_name,
        sport,
        player_name,
        team_name,
        parallel,
        print_run,
        event_inserted_at as valid_from,
        lead(event_inserted_at) over (partition by sku order by event_inserted_at, event_id) as valid_to,
        row_number() over (partition by sku order by event_inserted_at, event_id) as version_number,
        event_id as source_event_id
    from changes

),

final as (

    select
        sku || '#' || cast(version_number as varchar) as card_version_id,
        sku,
        version_number,
        card_name,
        sport,
        player_name,
        team_name,
        parallel,
        print_run,
        valid_from,
        valid_to,
        valid_to is null as is_current,
        source_event_id

    from versions

)

select * from final
