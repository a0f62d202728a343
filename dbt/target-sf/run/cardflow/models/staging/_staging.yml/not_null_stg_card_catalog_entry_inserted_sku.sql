
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select sku
from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
where sku is null



  
  
      
    ) dbt_internal_test