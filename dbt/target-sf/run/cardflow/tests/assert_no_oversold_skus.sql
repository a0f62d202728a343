
    
    select
      count(*) as failures,
      count(*) != 0 as should_warn,
      count(*) != 0 as should_error
    from (
      
    
  

-- Oversold SKUs: more units sold than estimated good units produced. A warning, not an error:
-- the estimate is an estimate, and sales ahead of production happen (pre-orders); it goes into the
-- run's artifact for the planners.
select sku, units_sold, estimated_good_units
from CARDFLOW.GOLD.fct_sku_supply_demand
where is_oversold
  
  
      
    ) dbt_internal_test