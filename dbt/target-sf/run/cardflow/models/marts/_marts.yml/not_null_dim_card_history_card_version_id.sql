
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select card_version_id
from CARDFLOW.GOLD.dim_card_history
where card_version_id is null



  
  
      
    ) dbt_internal_test