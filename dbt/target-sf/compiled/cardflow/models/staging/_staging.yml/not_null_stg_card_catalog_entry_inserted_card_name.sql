
    
    



select card_name
from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
where card_name is null


