

select defect_rate_estimate as failing_value
from CARDFLOW.SILVER.stg_manufacturing_batch
where defect_rate_estimate < 0 or defect_rate_estimate > 1

