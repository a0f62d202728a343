
    
    



select customer_id
from CARDFLOW.GOLD.fct_orders
where customer_id is null


