begin;
    
        
        
        delete from CARDFLOW.SILVER.int_events_rejected as DBT_INTERNAL_DEST
        where (event_id) in (
            select distinct event_id
            from CARDFLOW.SILVER.int_events_rejected__dbt_tmp as DBT_INTERNAL_SOURCE
        );

    

    insert into CARDFLOW.SILVER.int_events_rejected ("EVENT_ID", "SOURCE", "EVENT_TYPE", "REJECTION_REASON", "PAYLOAD_TEXT", "EVENT_INSERTED_AT", "INGESTED_AT", "LOADED_AT", "FILE_NAME", "FILE_ROW_NUMBER")
    (
        select "EVENT_ID", "SOURCE", "EVENT_TYPE", "REJECTION_REASON", "PAYLOAD_TEXT", "EVENT_INSERTED_AT", "INGESTED_AT", "LOADED_AT", "FILE_NAME", "FILE_ROW_NUMBER"
        from CARDFLOW.SILVER.int_events_rejected__dbt_tmp
    );
    commit;