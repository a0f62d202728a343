
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select card_name
from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
where card_name is null



  
  
      
    ) dbt_internal_test