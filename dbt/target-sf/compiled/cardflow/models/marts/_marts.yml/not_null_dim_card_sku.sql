
    
    



select sku
from CARDFLOW.GOLD.dim_card
where sku is null


