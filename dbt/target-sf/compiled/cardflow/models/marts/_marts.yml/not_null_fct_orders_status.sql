
    
    



select status
from CARDFLOW.GOLD.fct_orders
where status is null


