
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select order_ts
from CARDFLOW.SILVER.stg_order_created
where order_ts is null



  
  
      
    ) dbt_internal_test