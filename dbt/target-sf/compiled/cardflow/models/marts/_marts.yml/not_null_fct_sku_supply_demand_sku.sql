
    
    



select sku
from CARDFLOW.GOLD.fct_sku_supply_demand
where sku is null


