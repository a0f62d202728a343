
    
    



select inserted_at
from CARDFLOW.RAW.events
where inserted_at is null


