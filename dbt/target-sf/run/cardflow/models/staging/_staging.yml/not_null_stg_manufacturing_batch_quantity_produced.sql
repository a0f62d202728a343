
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select quantity_produced
from CARDFLOW.SILVER.stg_manufacturing_batch
where quantity_produced is null



  
  
      
    ) dbt_internal_test