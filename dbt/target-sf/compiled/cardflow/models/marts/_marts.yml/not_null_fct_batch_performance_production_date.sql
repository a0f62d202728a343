
    
    



select production_date
from CARDFLOW.GOLD.fct_batch_performance
where production_date is null


