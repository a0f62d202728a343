
    
    



select quantity_produced
from CARDFLOW.SILVER.stg_manufacturing_batch
where quantity_produced is null


