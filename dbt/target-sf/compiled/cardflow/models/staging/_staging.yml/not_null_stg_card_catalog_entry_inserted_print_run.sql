
    
    



select print_run
from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
where print_run is null


