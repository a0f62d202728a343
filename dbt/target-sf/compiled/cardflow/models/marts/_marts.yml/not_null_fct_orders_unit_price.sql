
    
    



select unit_price
from CARDFLOW.GOLD.fct_orders
where unit_price is null


