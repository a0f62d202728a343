

select unit_price as failing_value
from CARDFLOW.GOLD.fct_orders
where unit_price < 0

