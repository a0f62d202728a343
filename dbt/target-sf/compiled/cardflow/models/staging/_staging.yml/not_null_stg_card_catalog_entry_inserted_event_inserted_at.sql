
    
    



select event_inserted_at
from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
where event_inserted_at is null


