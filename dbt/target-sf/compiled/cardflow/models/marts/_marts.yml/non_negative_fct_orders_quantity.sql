

select quantity as failing_value
from CARDFLOW.GOLD.fct_orders
where quantity < 0

