
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select event_inserted_at
from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
where event_inserted_at is null



  
  
      
    ) dbt_internal_test