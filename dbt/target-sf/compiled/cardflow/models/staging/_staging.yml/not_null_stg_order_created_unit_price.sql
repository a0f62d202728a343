
    
    



select unit_price
from CARDFLOW.SILVER.stg_order_created
where unit_price is null


