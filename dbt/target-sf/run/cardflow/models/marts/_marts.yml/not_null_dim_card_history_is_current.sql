
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select is_current
from CARDFLOW.GOLD.dim_card_history
where is_current is null



  
  
      
    ) dbt_internal_test