
    
    



select customer_id
from CARDFLOW.SILVER.stg_order_created
where customer_id is null


