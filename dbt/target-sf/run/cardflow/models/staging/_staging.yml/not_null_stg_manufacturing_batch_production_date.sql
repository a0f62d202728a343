
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select production_date
from CARDFLOW.SILVER.stg_manufacturing_batch
where production_date is null



  
  
      
    ) dbt_internal_test