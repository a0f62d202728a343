
    
    



select quantity_produced
from CARDFLOW.GOLD.fct_batch_performance
where quantity_produced is null


