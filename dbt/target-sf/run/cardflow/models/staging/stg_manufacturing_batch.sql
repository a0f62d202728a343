begin;
    
        
        
        delete from CARDFLOW.SILVER.stg_manufacturing_batch as DBT_INTERNAL_DEST
        where (event_id) in (
            select distinct event_id
            from CARDFLOW.SILVER.stg_manufacturing_batch__dbt_tmp as DBT_INTERNAL_SOURCE
        );

    

    insert into CARDFLOW.SILVER.stg_manufacturing_batch ("EVENT_ID", "BATCH_ID", "SKU", "QUANTITY_PRODUCED", "DEFECT_RATE_ESTIMATE", "PRODUCTION_DATE", "EVENT_INSERTED_AT", "INGESTED_AT", "LOADED_AT", "FILE_NAME", "FILE_ROW_NUMBER")
    (
        select "EVENT_ID", "BATCH_ID", "SKU", "QUANTITY_PRODUCED", "DEFECT_RATE_ESTIMATE", "PRODUCTION_DATE", "EVENT_INSERTED_AT", "INGESTED_AT", "LOADED_AT", "FILE_NAME", "FILE_ROW_NUMBER"
        from CARDFLOW.SILVER.stg_manufacturing_batch__dbt_tmp
    );
    commit;