
    
    



select event_id
from CARDFLOW.SILVER.int_events_rejected
where event_id is null


