
    
    



select order_id
from CARDFLOW.GOLD.fct_orders
where order_id is null


