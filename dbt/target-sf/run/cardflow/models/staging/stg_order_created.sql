begin;
    
        
        
        delete from CARDFLOW.SILVER.stg_order_created as DBT_INTERNAL_DEST
        where (event_id) in (
            select distinct event_id
            from CARDFLOW.SILVER.stg_order_created__dbt_tmp as DBT_INTERNAL_SOURCE
        );

    

    insert into CARDFLOW.SILVER.stg_order_created ("EVENT_ID", "ORDER_ID", "CUSTOMER_ID", "SKU", "QUANTITY", "UNIT_PRICE", "STATUS", "ORDER_TS", "EVENT_INSERTED_AT", "INGESTED_AT", "LOADED_AT", "FILE_NAME", "FILE_ROW_NUMBER")
    (
        select "EVENT_ID", "ORDER_ID", "CUSTOMER_ID", "SKU", "QUANTITY", "UNIT_PRICE", "STATUS", "ORDER_TS", "EVENT_INSERTED_AT", "INGESTED_AT", "LOADED_AT", "FILE_NAME", "FILE_ROW_NUMBER"
        from CARDFLOW.SILVER.stg_order_created__dbt_tmp
    );
    commit;