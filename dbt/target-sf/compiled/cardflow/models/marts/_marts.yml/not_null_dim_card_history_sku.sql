
    
    



select sku
from CARDFLOW.GOLD.dim_card_history
where sku is null


