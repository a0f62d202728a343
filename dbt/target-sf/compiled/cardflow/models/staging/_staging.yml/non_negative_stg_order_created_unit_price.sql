

select unit_price as failing_value
from CARDFLOW.SILVER.stg_order_created
where unit_price < 0

