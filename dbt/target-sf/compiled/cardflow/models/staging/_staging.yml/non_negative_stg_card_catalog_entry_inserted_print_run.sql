

select print_run as failing_value
from CARDFLOW.SILVER.stg_card_catalog_entry_inserted
where print_run < 0

