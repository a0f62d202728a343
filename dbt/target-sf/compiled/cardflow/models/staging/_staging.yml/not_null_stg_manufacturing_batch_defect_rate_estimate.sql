
    
    



select defect_rate_estimate
from CARDFLOW.SILVER.stg_manufacturing_batch
where defect_rate_estimate is null


