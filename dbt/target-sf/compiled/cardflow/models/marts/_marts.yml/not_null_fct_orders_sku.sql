
    
    



select sku
from CARDFLOW.GOLD.fct_orders
where sku is null


