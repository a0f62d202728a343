
    
    



select event_inserted_at
from CARDFLOW.SILVER.stg_manufacturing_batch
where event_inserted_at is null


