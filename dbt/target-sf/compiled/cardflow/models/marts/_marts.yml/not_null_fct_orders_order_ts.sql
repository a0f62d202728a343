
    
    



select order_ts
from CARDFLOW.GOLD.fct_orders
where order_ts is null


