
    
    



select order_total
from CARDFLOW.GOLD.fct_orders
where order_total is null


