
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select batch_id
from CARDFLOW.GOLD.fct_batch_performance
where batch_id is null



  
  
      
    ) dbt_internal_test