
    
    



select event_id
from CARDFLOW.RAW.events
where event_id is null


