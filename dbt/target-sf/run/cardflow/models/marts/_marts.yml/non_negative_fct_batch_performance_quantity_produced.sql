
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  

select quantity_produced as failing_value
from CARDFLOW.GOLD.fct_batch_performance
where quantity_produced < 0


  
  
      
    ) dbt_internal_test