
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select quantity
from CARDFLOW.SILVER.stg_order_created
where quantity is null



  
  
      
    ) dbt_internal_test