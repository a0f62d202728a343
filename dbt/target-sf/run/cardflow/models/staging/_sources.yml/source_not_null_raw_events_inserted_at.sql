
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select inserted_at
from CARDFLOW.RAW.events
where inserted_at is null



  
  
      
    ) dbt_internal_test