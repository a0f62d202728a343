
    
    



select quantity
from CARDFLOW.SILVER.stg_order_created
where quantity is null


