
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select production_date
from CARDFLOW.GOLD.fct_batch_performance
where production_date is null



  
  
      
    ) dbt_internal_test