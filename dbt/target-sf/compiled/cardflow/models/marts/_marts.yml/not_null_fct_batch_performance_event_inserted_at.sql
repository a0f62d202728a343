
    
    



select event_inserted_at
from CARDFLOW.GOLD.fct_batch_performance
where event_inserted_at is null


