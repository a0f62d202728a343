
    
    



select event_id
from CARDFLOW.SILVER.stg_manufacturing_batch
where event_id is null


