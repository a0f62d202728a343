
    
    



select sku
from CARDFLOW.SILVER.stg_order_created
where sku is null


