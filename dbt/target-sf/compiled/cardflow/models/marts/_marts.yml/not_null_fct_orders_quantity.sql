
    
    



select quantity
from CARDFLOW.GOLD.fct_orders
where quantity is null


