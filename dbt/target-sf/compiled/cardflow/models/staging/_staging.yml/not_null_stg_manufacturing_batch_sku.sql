
    
    



select sku
from CARDFLOW.SILVER.stg_manufacturing_batch
where sku is null


