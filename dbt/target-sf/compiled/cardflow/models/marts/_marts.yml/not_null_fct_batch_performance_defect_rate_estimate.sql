
    
    



select defect_rate_estimate
from CARDFLOW.GOLD.fct_batch_performance
where defect_rate_estimate is null


