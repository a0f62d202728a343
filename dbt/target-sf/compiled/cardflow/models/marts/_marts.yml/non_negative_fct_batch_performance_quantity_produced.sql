

select quantity_produced as failing_value
from CARDFLOW.GOLD.fct_batch_performance
where quantity_produced < 0

