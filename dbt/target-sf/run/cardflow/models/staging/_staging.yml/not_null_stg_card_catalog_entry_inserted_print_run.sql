
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select print_run
from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
where print_run is null



  
  
      
    ) dbt_internal_test