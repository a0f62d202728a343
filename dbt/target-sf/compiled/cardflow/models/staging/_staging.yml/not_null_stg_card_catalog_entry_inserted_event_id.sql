
    
    



select event_id
from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
where event_id is null


