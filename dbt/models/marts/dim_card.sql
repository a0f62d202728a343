{#
  One row per SKU: the card as its latest catalog event describes it (corrections arrive as new
  CardCatalogEntryInserted events). A table: the catalog is small (thousands of SKUs) and a rebuild
  is cheaper than reasoning about merges. Full history: dim_card_history.
#}

with catalog_events as (

    select * from {{ ref('stg_card_catalog_entry_inserted') }}

),

latest_event as (

    select * from catalog_events
    {{ cardflow.keep_latest('sku', ['event_inserted_at', 'event_id']) }}

),

final as (

    select
        sku,
        card_name,
        sport,
        player_name,
        team_name,
        parallel,
        print_run,
        event_inserted_at as last_updated_at

    from latest_event

)

select * from final
