
    
    



select event_id
from CARDFLOW.SILVER.stg_order_created
where event_id is null


