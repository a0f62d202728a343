
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select quantity_produced
from CARDFLOW.GOLD.fct_batch_performance
where quantity_produced is null



  
  
      
    ) dbt_internal_test