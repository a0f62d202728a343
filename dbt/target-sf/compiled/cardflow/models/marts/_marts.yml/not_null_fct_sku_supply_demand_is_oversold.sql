
    
    



select is_oversold
from CARDFLOW.GOLD.fct_sku_supply_demand
where is_oversold is null


