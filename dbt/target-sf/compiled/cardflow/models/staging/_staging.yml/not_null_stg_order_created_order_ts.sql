
    
    



select order_ts
from CARDFLOW.SILVER.stg_order_created
where order_ts is null


