

select quantity as failing_value
from CARDFLOW.SILVER.stg_order_created
where quantity < 0

