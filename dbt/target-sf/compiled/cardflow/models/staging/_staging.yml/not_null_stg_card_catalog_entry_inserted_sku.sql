
    
    



select sku
from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
where sku is null


