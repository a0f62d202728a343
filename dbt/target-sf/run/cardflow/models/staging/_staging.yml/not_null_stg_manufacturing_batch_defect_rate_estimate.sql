
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select defect_rate_estimate
from CARDFLOW.SILVER.stg_manufacturing_batch
where defect_rate_estimate is null



  
  
      
    ) dbt_internal_test