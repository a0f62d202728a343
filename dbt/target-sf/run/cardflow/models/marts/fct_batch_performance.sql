begin;
    
        
        
        delete from CARDFLOW.GOLD.fct_batch_performance as DBT_INTERNAL_DEST
        where (batch_id) in (
            select distinct batch_id
            from CARDFLOW.GOLD.fct_batch_performance__dbt_tmp as DBT_INTERNAL_SOURCE
        );

    

    insert into CARDFLOW.GOLD.fct_batch_performance ("BATCH_ID", "SKU", "PRODUCTION_DATE", "QUANTITY_PRODUCED", "DEFECT_RATE_ESTIMATE", "ESTIMATED_DEFECTS", "ESTIMATED_GOOD_UNITS", "EVENT_INSERTED_AT")
    (
        select "BATCH_ID", "SKU", "PRODUCTION_DATE", "QUANTITY_PRODUCED", "DEFECT_RATE_ESTIMATE", "ESTIMATED_DEFECTS", "ESTIMATED_GOOD_UNITS", "EVENT_INSERTED_AT"
        from CARDFLOW.GOLD.fct_batch_performance__dbt_tmp
    );
    commit;