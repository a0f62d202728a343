

select quantity_produced as failing_value
from CARDFLOW.SILVER.stg_manufacturing_batch
where quantity_produced < 0

