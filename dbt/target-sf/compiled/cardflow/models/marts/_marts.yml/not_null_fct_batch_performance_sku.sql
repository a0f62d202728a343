
    
    



select sku
from CARDFLOW.GOLD.fct_batch_performance
where sku is null


