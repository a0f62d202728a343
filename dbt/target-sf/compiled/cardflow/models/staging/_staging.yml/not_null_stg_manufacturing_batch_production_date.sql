
    
    



select production_date
from CARDFLOW.SILVER.stg_manufacturing_batch
where production_date is null


