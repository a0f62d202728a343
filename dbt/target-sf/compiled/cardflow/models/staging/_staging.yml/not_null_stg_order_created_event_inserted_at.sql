
    
    



select event_inserted_at
from CARDFLOW.SILVER.stg_order_created
where event_inserted_at is null


