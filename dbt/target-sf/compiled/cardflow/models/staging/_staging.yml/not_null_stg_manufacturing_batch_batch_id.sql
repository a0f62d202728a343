
    
    



select batch_id
from CARDFLOW.SILVER.stg_manufacturing_batch
where batch_id is null


