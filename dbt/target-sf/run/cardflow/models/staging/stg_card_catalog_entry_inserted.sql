begin;
    
        
        
        delete from CARDFLOW.SILVER.stg_card_catalog_entry_inserted as DBT_INTERNAL_DEST
        where (event_id) in (
            select distinct event_id
            from CARDFLOW.SILVER.stg_card_catalog_entry_inserted__dbt_tmp as DBT_INTERNAL_SOURCE
        );

    

    insert into CARDFLOW.SILVER.stg_card_catalog_entry_inserted ("EVENT_ID", "SKU", "CARD_NAME", "SPORT", "PLAYER_NAME", "TEAM_NAME", "PARALLEL", "PRINT_RUN", "EVENT_INSERTED_AT", "INGESTED_AT", "LOADED_AT", "FILE_NAME", "FILE_ROW_NUMBER")
    (
        select "EVENT_ID", "SKU", "CARD_NAME", "SPORT", "PLAYER_NAME", "TEAM_NAME", "PARALLEL", "PRINT_RUN", "EVENT_INSERTED_AT", "INGESTED_AT", "LOADED_AT", "FILE_NAME", "FILE_ROW_NUMBER"
        from CARDFLOW.SILVER.stg_card_catalog_entry_inserted__dbt_tmp
    );
    commit;