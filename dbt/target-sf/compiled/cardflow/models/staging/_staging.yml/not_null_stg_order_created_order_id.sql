
    
    



select order_id
from CARDFLOW.SILVER.stg_order_created
where order_id is null


