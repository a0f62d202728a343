
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  
    
    



select is_oversold
from CARDFLOW.GOLD.fct_sku_supply_demand
where is_oversold is null



  
  
      
    ) dbt_internal_test