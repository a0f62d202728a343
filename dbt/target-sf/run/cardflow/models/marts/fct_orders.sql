begin;
    
        
        
        delete from CARDFLOW.GOLD.fct_orders as DBT_INTERNAL_DEST
        where (order_id) in (
            select distinct order_id
            from CARDFLOW.GOLD.fct_orders__dbt_tmp as DBT_INTERNAL_SOURCE
        );

    

    insert into CARDFLOW.GOLD.fct_orders ("ORDER_ID", "ORDER_TS", "CUSTOMER_ID", "SKU", "QUANTITY", "UNIT_PRICE", "ORDER_TOTAL", "STATUS", "EVENT_INSERTED_AT")
    (
        select "ORDER_ID", "ORDER_TS", "CUSTOMER_ID", "SKU", "QUANTITY", "UNIT_PRICE", "ORDER_TOTAL", "STATUS", "EVENT_INSERTED_AT"
        from CARDFLOW.GOLD.fct_orders__dbt_tmp
    );
    commit;