
    
    



select event_inserted_at
from CARDFLOW.GOLD.fct_orders
where event_inserted_at is null


