
    
    



select batch_id
from CARDFLOW.GOLD.fct_batch_performance
where batch_id is null


