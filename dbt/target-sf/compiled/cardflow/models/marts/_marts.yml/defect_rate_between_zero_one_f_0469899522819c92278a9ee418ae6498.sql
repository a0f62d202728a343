

select defect_rate_estimate as failing_value
from CARDFLOW.GOLD.fct_batch_performance
where defect_rate_estimate < 0 or defect_rate_estimate > 1

