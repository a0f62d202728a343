

with catalog_events as (

    select * from CARDFLOW.SILVER.stg_card_catalog_entry_inserted

),

latest_event as (

    select * from catalog_events
    qualify row_number() over (
        partition by sku
        order by event_inserted_at desc, event_id desc
    ) = 1

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