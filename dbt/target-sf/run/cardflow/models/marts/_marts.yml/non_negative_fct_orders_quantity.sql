
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  

select quantity as failing_value
from CARDFLOW.GOLD.fct_orders
where quantity < 0


  
  
      
    ) dbt_internal_test